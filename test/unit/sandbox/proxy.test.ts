import { nginxProxyConfig } from '@gitops-lite/sandbox'

describe('nginxProxyConfig', () => {
  it("re-resolves the service through Docker's DNS and retries a failed connection on another container", () => {
    const config = nginxProxyConfig([{ listen: 80, service: 'api', port: 8080 }])
    expect(config).toContain('resolver 127.0.0.11 valid=1s ipv6=off;')
    // A variable in proxy_pass: a literal name would be resolved once, at start.
    expect(config).toContain('set $upstream http://api:8080;\n      proxy_pass $upstream;')
    expect(config).toContain('proxy_connect_timeout 250ms;')
    expect(config).toContain('proxy_next_upstream error timeout;')
  })
})
