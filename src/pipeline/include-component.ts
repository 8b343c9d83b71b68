import type { ProblemList } from './config-problem.js';
import type { IncludeState } from './include.js';
import { type IncludeEntryPlace, locationText, sourceFailure } from './include-project.js';
import {
  contextOf,
  type IncludeContext,
  type IncludeRead,
  type ProjectSnapshot,
  sourcesIn,
} from './include-sources.js';
import type { MapNode, TreeNode } from './yaml-tree.js';

/** An `include:component` entry: `<host>/<project full path>/<component name>@<version>`. */
export interface ComponentTarget {
  readonly kind: 'component';
  /** The address as written, variables (`$CI_SERVER_FQDN`) expanded. */
  readonly address: string;
  readonly host: string;
  readonly project: string;
  readonly name: string;
  /** A tag, branch or commit SHA, `~latest`, or a partial version (`1`, `1.2`). */
  readonly version: string;
}

/** GitLab's keyword for the newest released version of a component. */
const LATEST = '~latest';

/** `1` or `1.2`: the newest version with that major (and minor) number, as GitLab's catalog. */
const PARTIAL_VERSION = /^\d+(\.\d+)?$/;

const SEMANTIC_VERSION = /^v?(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$/;

/**
 * Reads an `include:component` address. The project path is everything between the host and the
 * last `/`, the component name what follows it, as GitLab splits it.
 */
export function readComponentEntry(
  item: MapNode,
  where: string,
  problems: ProblemList,
  variables: Readonly<Record<string, string>>,
): ComponentTarget | null {
  const node = item.entries.get('component') as TreeNode;
  const address = locationText(node, `${where}.component`, problems, variables, 'a component address');
  if (address === null) return null;
  const form =
    'write <host>/<group>/<project>/<component name>@<version>, e.g. $CI_SERVER_FQDN/acme/components/build@1.0.0';
  const at = address.indexOf('@');
  const path = at < 0 ? address : address.slice(0, at);
  const version = at < 0 ? '' : address.slice(at + 1);
  const segments = path.split('/');
  if (
    version === '' ||
    segments.length < 4 ||
    segments.some((segment) => segment === '' || segment === '..')
  ) {
    problems.error(
      `${where}.component`,
      `"${address}" is not a component address${version === '' ? ' (it names no version)' : ''}: ${form}`,
      node,
    );
    return null;
  }
  return {
    kind: 'component',
    address,
    host: segments[0] as string,
    project: segments.slice(1, -1).join('/'),
    name: segments[segments.length - 1] as string,
    version,
  };
}

/**
 * Reads a component as GitLab's catalog finds it: `templates/<name>.yml`, else
 * `templates/<name>/template.yml`, in the component's project at its version, with the access of
 * the pipeline's user. The host must be this instance's. `~latest` is the newest tag that is a
 * semantic version (no pre-release), `1` or `1.2` the newest with that major (and minor) number.
 */
export async function readComponentInclude(
  target: ComponentTarget,
  place: IncludeEntryPlace,
  context: IncludeContext,
  state: IncludeState,
): Promise<IncludeRead | null> {
  const { where, at } = place;
  const fail = (message: string): null => {
    state.problems.error(`${where}.component`, `component "${target.address}": ${message}`, at);
    return null;
  };
  const sources = sourcesIn(context, state.sources);
  if (sources === undefined)
    return fail(
      'include:component reads projects of a Tessera server (tessera ci lint --server URL --project PATH)',
    );
  if (!sources.serverHosts.includes(target.host))
    return fail(
      `"${target.host}" is not this instance; components are read from projects of this instance only, so start the address with ${sources.serverHosts[0] ?? 'its host'} (or $CI_SERVER_FQDN)`,
    );
  let ref = target.version;
  if (target.version === LATEST || PARTIAL_VERSION.test(target.version)) {
    let tags: readonly string[];
    try {
      tags = await sources.listTags(target.project);
    } catch (error) {
      return fail(sourceFailure(error));
    }
    const newest = newestVersion(tags, target.version === LATEST ? null : target.version);
    if (newest !== null) ref = newest;
    else if (target.version === LATEST)
      return fail(
        `project "${target.project}" has no tag that is a released semantic version (1.2.3 or v1.2.3), so ~latest names none; tag a release or name a version`,
      );
  }
  let snapshot: ProjectSnapshot;
  try {
    snapshot = await sources.openProject(target.project, ref);
  } catch (error) {
    return fail(sourceFailure(error));
  }
  const candidates = [`templates/${target.name}.yml`, `templates/${target.name}/template.yml`];
  for (const path of candidates) {
    let content: string | undefined;
    try {
      content = snapshot.readLocalFile === undefined ? undefined : await snapshot.readLocalFile(path);
    } catch (error) {
      return fail(`cannot read ${path} of project "${target.project}" at ${ref}: ${sourceFailure(error)}`);
    }
    if (content === undefined) continue;
    if (content.trim() === '') return fail(`${path} of project "${target.project}" at ${ref} is empty`);
    return {
      content,
      label: `${path} of ${target.project} at ${ref}`,
      context: contextOf(snapshot, context),
      component: {
        name: target.name,
        sha: snapshot.sha,
        version: ref !== target.version || SEMANTIC_VERSION.test(target.version) ? ref : null,
        reference: target.version,
      },
      record: {
        type: 'component',
        location: target.address,
        source: { project: snapshot.project, sha: snapshot.sha, path },
        extra: {},
        contextProject: context.project ?? null,
        contextSha: context.sha ?? null,
      },
    };
  }
  return fail(
    `project "${target.project}" has no ${candidates.join(' or ')} at ${ref === target.version ? ref : `${ref} (${target.version})`}`,
  );
}

/**
 * The newest tag that is a semantic version without pre-release (`1.2.3` or `v1.2.3`), only those
 * starting with `partial` (`1` or `1.2`) when given; `null` when none is.
 */
export function newestVersion(tags: readonly string[], partial: string | null): string | null {
  const wanted = partial === null ? [] : partial.split('.').map(Number);
  let best: { tag: string; numbers: number[] } | null = null;
  for (const tag of tags) {
    const match = SEMANTIC_VERSION.exec(tag);
    if (match === null || match[4] !== undefined) continue;
    const numbers = [Number(match[1]), Number(match[2]), Number(match[3])];
    if (wanted.some((number, index) => numbers[index] !== number)) continue;
    if (best === null || compareVersions(numbers, best.numbers) > 0) best = { tag, numbers };
  }
  return best?.tag ?? null;
}

function compareVersions(a: readonly number[], b: readonly number[]): number {
  for (let index = 0; index < 3; index += 1) {
    const difference = (a[index] ?? 0) - (b[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
