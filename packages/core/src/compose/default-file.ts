import { existsSync } from 'node:fs'
import { join } from 'node:path'

/** The names compose looks for, in its order, when no file is given. */
export const COMPOSE_FILE_NAMES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'] as const

/** The name of the compose file compose itself would pick in `dir`, if there is one. */
export function findComposeFile(dir: string): string | undefined {
  return COMPOSE_FILE_NAMES.find((name) => existsSync(join(dir, name)))
}
