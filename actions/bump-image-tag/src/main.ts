import { UserError, runAction } from '@gitops-lite/core'

export async function run(): Promise<void> {
  await runAction(async () => {
    throw new UserError('bump-image-tag is not implemented yet', {
      fix: 'Pin an earlier release of gitops-lite or follow the project for the release that adds it.'
    })
  })
}
