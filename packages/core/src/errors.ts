/** Where in the user's files a problem was found, for a GitHub annotation. */
export interface ErrorLocation {
  file: string
  line?: number
  column?: number
}

export interface UserErrorOptions {
  /** What the user should do about it. */
  fix?: string
  location?: ErrorLocation
  cause?: unknown
}

/**
 * A problem with the user's input, files or environment: reported as a clear failure
 * (what was wrong, where, what to do) rather than as a crash with a stack trace.
 */
export class UserError extends Error {
  readonly fix?: string
  readonly location?: ErrorLocation

  constructor(message: string, options: UserErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'UserError'
    this.fix = options.fix
    this.location = options.location
  }

  /** The message with its location and fix, as one paragraph for a log line. */
  describe(): string {
    const where = this.location ? ` (${formatLocation(this.location)})` : ''
    return this.fix ? `${this.message}${where}. ${this.fix}` : `${this.message}${where}`
  }
}

export function formatLocation(location: ErrorLocation): string {
  if (location.line === undefined) return location.file
  return location.column === undefined
    ? `${location.file}:${location.line}`
    : `${location.file}:${location.line}:${location.column}`
}

/** Text of any thrown value, for messages. */
export function errorMessage(error: unknown): string {
  if (error instanceof UserError) return error.describe()
  if (error instanceof Error) return error.message
  return String(error)
}
