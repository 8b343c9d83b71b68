import { spawn, spawnSync } from 'node:child_process';

/** A Python that has python-gitlab (Debian's python3-gitlab lives beside /usr/bin/python3), or why not. */
export function findPythonGitlab(): { python: string } | { skip: string } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const probe = spawnSync(python, ['-c', 'import gitlab'], { encoding: 'utf8' });
    if (probe.status === 0) return { python };
  }
  return {
    skip: "python-gitlab is not installed (`python3 -c 'import gitlab'` fails): apt-get install python3-gitlab",
  };
}

/** Runs `script` with `python` and `env`; answers its exit code and output. */
export function runPython(python: string, script: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(python, [script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}
