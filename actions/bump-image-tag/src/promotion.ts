import { existsSync, realpathSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import {
  UserError,
  isMutableTag,
  leavesWorkspace,
  planPromotion,
  resolveInsideWorkspace,
  type Promotion
} from '@gitops-lite/core'
import { readOptional, readText } from './files'
import { checkRegistry, type Settings } from './input-helper'

type PromotionInput = Pick<Settings, 'workspace' | 'workingDirectory' | 'allowLatest' | 'allowedRegistries'> & {
  promotion: NonNullable<Settings['promotion']>
}

/**
 * Reads the images to promote from 'from-file' on the branch checked out now (with the .env
 * beside it, as compose reads it), and applies the same policies as to a tag given by hand.
 */
export async function readPromotion(settings: PromotionInput): Promise<Promotion> {
  const { workspace, workingDirectory, promotion } = settings
  const path = resolveInsideWorkspace(promotion.from, {
    workspace,
    base: workingDirectory,
    baseName: 'working-directory',
    input: 'from-file'
  })
  if (!existsSync(path)) {
    throw new UserError(
      `Input 'from-file' ${JSON.stringify(promotion.from)} does not exist in ${relative(workspace, workingDirectory) || '.'}`,
      {
        fix: 'Give the compose file of the environment to promote from, relative to working-directory, e.g. environments/staging/compose.yaml.'
      }
    )
  }
  const envPath = join(dirname(path), '.env')
  if (leavesWorkspace(workspace, envPath)) {
    throw new UserError(
      `${relative(workspace, envPath)} is a symbolic link that leads outside the workspace (to ${realpathSync(envPath)})`,
      {
        fix: 'Replace the link with the file itself.'
      }
    )
  }
  const display = (file: string): string => relative(workspace, file)
  const planned = planPromotion(
    {
      file: { path: display(path), text: await readText(path, display(path)) },
      envFile: { path: display(envPath), text: await readOptional(envPath, display(envPath)) }
    },
    promotion.services
  )
  planned.targets.forEach((target, index) => {
    const source = planned.sources[index]
    const location = { file: display(path), line: source.line }
    if (!settings.allowLatest && isMutableTag(target.tag)) {
      throw new UserError(
        `The image of service '${source.service}' in ${location.file} has the mutable tag ${JSON.stringify(target.tag)}: promoting it pins nothing (${source.image})`,
        {
          fix: `Pin ${location.file} to an immutable tag such as v1.2.3 or the commit sha (with its digest) first, or set 'allow-latest: true'.`,
          location
        }
      )
    }
    checkRegistry(source.image, settings.allowedRegistries, location, `service '${source.service}' in ${location.file}`)
  })
  return planned
}
