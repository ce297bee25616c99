// Ends the run with one plain line, 'N passed, N failed, N skipped', that CI reads.
class SummaryReporter {
  onRunComplete(_contexts, results) {
    const skipped = results.numPendingTests + results.numTodoTests
    const suiteFailures =
      results.numFailedTestSuites > 0 && results.numFailedTests === 0 ? results.numFailedTestSuites : 0
    process.stdout.write(
      `\njest: ${results.numPassedTests} passed, ${results.numFailedTests + suiteFailures} failed, ${skipped} skipped\n`
    )
  }
}
module.exports = SummaryReporter
