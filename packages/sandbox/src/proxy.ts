import { ensureDebianImage, type DebianImageSpec } from './debian-image'

/** nginx from Debian's nginx-light package, for a reverse proxy in front of start-first services. */
export const NGINX_IMAGE: DebianImageSpec = {
  packages: ['nginx-light'],
  changes: ['CMD ["nginx", "-g", "daemon off;"]']
}

/** Builds (once per package list) and returns the nginx image's tag. */
export function ensureNginxImage(): Promise<string> {
  return ensureDebianImage(NGINX_IMAGE)
}

export interface ProxyRoute {
  /** Port nginx listens on inside its container. */
  listen: number
  /** The compose service it forwards to, by name on the compose network. */
  service: string
  /** The service's port. */
  port: number
}

/**
 * nginx.conf for a proxy that holds through a start-first rollout (docs/guide.md explains each
 * setting): it asks Docker's DNS (127.0.0.11) for the service's containers again every second,
 * through a variable in proxy_pass (a literal name is resolved once, at start), and a request
 * whose connection fails or times out (a container that is going away) is retried on another
 * container after a short connect timeout.
 */
export function nginxProxyConfig(routes: readonly ProxyRoute[]): string {
  const servers = routes.map((route) =>
    [
      '  server {',
      `    listen ${route.listen};`,
      '    location / {',
      `      set $upstream http://${route.service}:${route.port};`,
      '      proxy_pass $upstream;',
      '      proxy_connect_timeout 250ms;',
      '      proxy_next_upstream error timeout;',
      '      proxy_next_upstream_timeout 10s;',
      '    }',
      '  }'
    ].join('\n')
  )
  return [
    'worker_processes 1;',
    'error_log stderr warn;',
    'pid /tmp/nginx.pid;',
    'events { worker_connections 512; }',
    'http {',
    '  access_log off;',
    '  resolver 127.0.0.11 valid=1s ipv6=off;',
    '  resolver_timeout 2s;',
    ...servers,
    '}',
    ''
  ].join('\n')
}
