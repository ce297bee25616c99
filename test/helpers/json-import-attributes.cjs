// @actions/languageservice and @actions/workflow-parser (used by the templates test) import their
// JSON schemas without `with { type: 'json' }`, which Jest warns about once per import and test
// file. This transform adds the attribute to those static imports; drop it when they do.
const jsonImport = /(\bfrom\s*(["'])[^"'\n]+\.json\2)(\s*;)/g

module.exports = {
  process(source) {
    return { code: source.replace(jsonImport, '$1 with { type: "json" }$3') }
  }
}
