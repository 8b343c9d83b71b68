import type { GroupRecord } from '../../store/repositories/groups.js';
import type { PipelineRecord } from '../../store/repositories/pipelines.js';
import type { ProjectRecord } from '../../store/repositories/projects.js';
import { Layout, type PageFrame } from './layout.js';
import { Age, StatusBadge } from './status-badge.js';

/**
 * `/`: the projects the user may read, each with its last pipeline, and their groups; a group's
 * page (`/groups/PATH`) is the same list narrowed to the group, with its subgroups.
 */
export function HomePage({
  frame,
  heading = 'Projects',
  groupsHeading = 'Groups',
  projects,
  groups,
  now,
}: {
  frame: PageFrame;
  heading?: string;
  groupsHeading?: string;
  projects: Array<{ project: ProjectRecord; last: PipelineRecord | undefined }>;
  groups: GroupRecord[];
  now: number;
}) {
  return (
    <Layout frame={frame}>
      <h1>{heading}</h1>
      {projects.length === 0 ? (
        <p class="muted">No projects yet.</p>
      ) : (
        <div class="table-scroll">
          <table>
            <thead>
              <tr>
                <th scope="col">Project</th>
                <th scope="col">Last pipeline</th>
                <th scope="col" class="hide-narrow">
                  Ref
                </th>
                <th scope="col" class="hide-narrow">
                  Updated
                </th>
              </tr>
            </thead>
            <tbody>
              {projects.map(({ project, last }) => (
                <tr>
                  <td>
                    <a href={`/${project.pathWithNamespace}`}>{project.pathWithNamespace}</a>
                  </td>
                  <td>
                    {last ? (
                      <a href={`/${project.pathWithNamespace}/-/pipelines/${last.id}`}>
                        <StatusBadge status={last.status} />
                      </a>
                    ) : (
                      <span class="muted">none</span>
                    )}
                  </td>
                  <td class="hide-narrow">{last?.ref ?? ''}</td>
                  <td class="hide-narrow">{last ? <Age at={last.updatedAt} now={now} /> : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <h2>{groupsHeading}</h2>
      {groups.length === 0 ? (
        <p class="muted">No groups.</p>
      ) : (
        <ul>
          {groups.map((group) => (
            <li>
              <a href={`/groups/${group.fullPath}`}>{group.fullPath}</a>
            </li>
          ))}
        </ul>
      )}
    </Layout>
  );
}
