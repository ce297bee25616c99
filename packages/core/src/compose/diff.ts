/**
 * A unified diff (`diff -u` / `git diff` format) of one file. Image edits replace text within
 * lines, so lines are compared position by position; when the line count changes, the lines
 * between the common head and tail form one change.
 */
export function unifiedDiff(path: string, before: string, after: string, context = 3): string {
  if (before === after) return ''
  const oldLines = splitLines(before)
  const newLines = splitLines(after)
  const changes: { oldStart: number; oldEnd: number; newStart: number; newEnd: number }[] = []
  if (oldLines.length === newLines.length) {
    for (let i = 0; i < oldLines.length; i++) {
      if (!sameLine(oldLines[i], newLines[i])) changes.push({ oldStart: i, oldEnd: i + 1, newStart: i, newEnd: i + 1 })
    }
  } else {
    let head = 0
    while (head < oldLines.length && head < newLines.length && sameLine(oldLines[head], newLines[head])) head++
    let tail = 0
    while (
      tail < oldLines.length - head &&
      tail < newLines.length - head &&
      sameLine(oldLines[oldLines.length - 1 - tail], newLines[newLines.length - 1 - tail])
    )
      tail++
    changes.push({ oldStart: head, oldEnd: oldLines.length - tail, newStart: head, newEnd: newLines.length - tail })
  }

  // Changes closer than twice the context share a hunk, as diff -u does.
  const hunks: (typeof changes)[] = []
  for (const change of changes) {
    const last = hunks[hunks.length - 1]
    if (last && change.oldStart - last[last.length - 1].oldEnd <= 2 * context) last.push(change)
    else hunks.push([change])
  }
  const out = [`--- a/${path}`, `+++ b/${path}`]
  for (const hunk of hunks) {
    const first = hunk[0]
    const last = hunk[hunk.length - 1]
    const oldFrom = Math.max(0, first.oldStart - context)
    const newFrom = first.newStart - (first.oldStart - oldFrom)
    const oldTo = Math.min(oldLines.length, last.oldEnd + context)
    const newTo = last.newEnd + (oldTo - last.oldEnd)
    out.push(`@@ -${range(oldFrom, oldTo)} +${range(newFrom, newTo)} @@`)
    let oldAt = oldFrom
    for (const change of hunk) {
      for (; oldAt < change.oldStart; oldAt++) out.push(...line(' ', oldLines, oldAt))
      for (let i = change.oldStart; i < change.oldEnd; i++) out.push(...line('-', oldLines, i))
      for (let i = change.newStart; i < change.newEnd; i++) out.push(...line('+', newLines, i))
      oldAt = change.oldEnd
    }
    for (; oldAt < oldTo; oldAt++) out.push(...line(' ', oldLines, oldAt))
  }
  return `${out.join('\n')}\n`
}

interface Line {
  text: string
  /** False for a last line with no newline after it. */
  terminated: boolean
}

function splitLines(text: string): Line[] {
  const parts = text.split('\n')
  const lines = parts.map((part, i) => ({ text: part.replace(/\r$/, ''), terminated: i < parts.length - 1 }))
  return parts[parts.length - 1] === '' ? lines.slice(0, -1) : lines
}

function sameLine(a: Line, b: Line): boolean {
  return a.text === b.text && a.terminated === b.terminated
}

function line(prefix: string, lines: Line[], index: number): string[] {
  const { text, terminated } = lines[index]
  return terminated ? [`${prefix}${text}`] : [`${prefix}${text}`, '\\ No newline at end of file']
}

function range(from: number, to: number): string {
  const count = to - from
  return count === 1 ? `${from + 1}` : `${count === 0 ? from : from + 1},${count}`
}

/**
 * The diff of every file an image bump changes. The env file's diff has no context lines:
 * its other lines are other variables, often secrets, which must not reach a log or an output.
 */
export function bumpDiff(
  files: readonly { path: string; before: string; after: string }[],
  envFilePath: string | undefined
): string {
  return files.map((f) => unifiedDiff(f.path, f.before, f.after, f.path === envFilePath ? 0 : 3)).join('')
}
