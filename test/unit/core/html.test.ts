import { escapeHtml } from '@gitops-lite/core'

describe('escapeHtml', () => {
  it('leaves no markup and no way out of a double-quoted attribute', () => {
    expect(escapeHtml('<img src=x onerror="alert(1)"> & more')).toBe('&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; more')
  })

  it('keeps plain text as it is', () => {
    expect(escapeHtml("web: deployed (healthy), 'rollback' is false")).toBe("web: deployed (healthy), 'rollback' is false")
  })
})
