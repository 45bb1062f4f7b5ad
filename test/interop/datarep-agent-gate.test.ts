// The agent's gate through the real daemon with a stock rsync client (the security issue): a host
// outside the allowed hosts gets no module list and cannot push, allowed hosts list and push and
// rsync's log names them (PROXY header); clients that name a share and never answer the password
// challenge, from one address or from many and reconnecting, do not keep a real source out, and the
// agent closes them at its deadline. Other loopback addresses (127.0.0.x) stand for other hosts.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { AgentStatus } from '../../src/datarep/agent/agent.js';
import { AUTH_DEADLINE_MS } from '../../src/datarep/agent/gate.js';
import { cliJson } from '../helpers/daemon.js';
import { run } from '../helpers/programs.js';
import { startAgentNode, waitFor } from '../helpers/agent-node.js';
import { tempDir } from '../helpers/temp-dir.js';

interface Stalled {
  readonly socket: Socket;
  /** ms from connect to close, once closed */
  closedAfter: number | null;
  received: string;
}

/** Connects from `from`, sends the greeting and the module name, and then never answers. */
function stall(port: number, from: string): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: from });
    const started = Date.now();
    const stalled: Stalled = { socket, closedAfter: null, received: '' };
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => (stalled.received += chunk));
    socket.on('close', () => (stalled.closedAfter = Date.now() - started));
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      socket.write('@RSYNCD: 32.0 sha512 sha256 sha1 md5 md4\noffice\n');
      resolve(stalled);
    });
    socket.once('error', reject);
  });
}

test(
  'the agent shows its shares only to allowed hosts and drops handshakes that stall',
  { timeout: 180_000 },
  async (t) => {
    const root = tempDir(t, 'tandem-agent-gate-');
    const { daemon, data, port, cli } = await startAgentNode(t, root, [
      '--allowed-hosts',
      '127.0.0.1,127.0.0.3',
    ]);
    await waitFor('the agent to run', async () => {
      const s = await cliJson<AgentStatus>(['--data', data, 'nas', 'agent', 'status']);
      return s.running ? s : undefined;
    });

    const source = join(root, 'source');
    mkdirSync(source);
    writeFileSync(join(source, 'report.txt'), 'quarterly numbers\n');
    const shareDir = join(data, 'pools', 'default', 'nas', 'backups', 'office');
    const url = `rsync://alice@127.0.0.1:${port}/office/`;
    const password = { RSYNC_PASSWORD: 'correct horse battery' };
    const push = (from: string, target = url) =>
      run('rsync', ['-a', `--address=${from}`, '--contimeout=20', `${source}/`, target], { env: password });

    await t.test('a host not allowed gets no share names or comments, and cannot push', async () => {
      const listed = await run('rsync', ['--address=127.0.0.2', `rsync://127.0.0.1:${port}/`]);
      assert.equal(listed.code, 5, listed.stderr);
      assert.doesNotMatch(listed.stdout + listed.stderr, /office|Office backup/);
      assert.match(listed.stderr, /@ERROR: access denied to this agent from 127\.0\.0\.2/);
      const pushed = await push('127.0.0.2');
      assert.equal(pushed.code, 5, pushed.stderr);
      assert.deepEqual(readdirSync(shareDir), []);
      // The node's log says who was refused.
      await waitFor('the refusal in the log', () =>
        Promise.resolve(
          /"event":"agent-refused"[^\n]*"client":"127\.0\.0\.2"[^\n]*not in allowed hosts/.test(
            daemon.output(),
          )
            ? true
            : undefined,
        ),
      );
    });

    await t.test('allowed hosts list and push; rsync logs their real address', async () => {
      for (const from of ['127.0.0.1', '127.0.0.3']) {
        const listed = await run('rsync', [`--address=${from}`, `rsync://127.0.0.1:${port}/`]);
        assert.equal(listed.code, 0, listed.stderr);
        assert.match(listed.stdout, /^office\s+\tOffice backup$/m);
      }
      const browsed = await cliJson<{ name: string }[]>([
        '--data',
        data,
        'nas',
        'agent',
        'browse',
        `127.0.0.1:${port}`,
      ]);
      assert.deepEqual(
        browsed.map((s) => s.name),
        ['office'],
      );
      const pushed = await push('127.0.0.3');
      assert.equal(pushed.code, 0, pushed.stderr);
      assert.deepEqual(readdirSync(shareDir), ['report.txt']);
      await waitFor('rsync naming 127.0.0.3', () =>
        Promise.resolve(
          /"component":"datarep-agent"[^\n]*rsync allowed access on module office from \S+ \(127\.0\.0\.3\)/.test(
            daemon.output(),
          )
            ? true
            : undefined,
        ),
      );
    });

    // From here on the stallers are allowed hosts too: the password is all that stands in their way.
    await cli(['nas', 'settings', 'set', '--allowed-hosts', '127.0.0.0/8', '--max-connections', '10']);

    await t.test(
      'ten stalling clients of one host: the real source pushes at once, they are closed at the deadline',
      async () => {
        const started = Date.now();
        const stallers = await Promise.all(Array.from({ length: 10 }, () => stall(port, '127.0.0.2')));
        await sleep(300);
        const pushed = await push('127.0.0.1', `${url}one-host/`);
        const took = Date.now() - started;
        assert.equal(pushed.code, 0, pushed.stderr);
        assert.ok(took < AUTH_DEADLINE_MS, `pushed after ${took} ms`);
        // Two of them got as far as the password challenge; the others wait without an rsync slot.
        const challenged = stallers.filter((s) => s.received.includes('@RSYNCD: AUTHREQD')).length;
        assert.equal(challenged, 2);
        await waitFor('the stallers to be closed', () =>
          Promise.resolve(stallers.every((s) => s.closedAfter !== null) ? true : undefined),
        );
        for (const s of stallers) {
          const after = s.closedAfter ?? 0;
          assert.ok(
            after >= AUTH_DEADLINE_MS - 200 && after < AUTH_DEADLINE_MS + 3000,
            `closed after ${after} ms`,
          );
        }
        assert.match(
          daemon.output(),
          /"event":"agent-dropped"[^\n]*"client":"127\.0\.0\.2"[^\n]*did not authenticate within 5 s/,
        );
      },
    );

    await t.test(
      'stallers from twelve hosts that reconnect at once do not keep the real source out',
      async () => {
        let attacking = true;
        const open = new Set<Socket>();
        const closedAfter: number[] = [];
        const attacker = async (from: string): Promise<void> => {
          while (attacking) {
            const s = await stall(port, from).catch(() => null);
            if (s === null) {
              await sleep(50);
              continue;
            }
            open.add(s.socket);
            await new Promise((resolve) => s.socket.once('close', resolve));
            open.delete(s.socket);
            if (s.closedAfter !== null) closedAfter.push(s.closedAfter);
          }
        };
        const attackStarted = Date.now();
        const attackers = Array.from({ length: 12 }, (_, i) => attacker(`127.0.0.${10 + i}`));
        try {
          // Twice: while the first wave holds everything, and after the agent dropped it and it came back.
          for (const [round, at] of [
            [1, 500],
            [2, AUTH_DEADLINE_MS + 1500],
          ] as const) {
            await sleep(Math.max(0, attackStarted + at - Date.now()));
            const started = Date.now();
            const pushed = await push('127.0.0.1', `${url}many-hosts-${round}/`);
            const took = Date.now() - started;
            assert.equal(pushed.code, 0, pushed.stderr);
            assert.doesNotMatch(pushed.stderr, /max connections/);
            assert.ok(took < AUTH_DEADLINE_MS + 3000, `round ${round}: pushed after ${took} ms`);
          }
        } finally {
          attacking = false;
          for (const socket of open) socket.destroy();
          await Promise.all(attackers);
        }
        assert.ok(closedAfter.length >= 12, `${closedAfter.length} stalled connections were closed`);
        // None was left open much past the deadline.
        assert.ok(
          Math.max(...closedAfter) < AUTH_DEADLINE_MS + 3000,
          `longest ${Math.max(...closedAfter)} ms`,
        );
        assert.deepEqual(readdirSync(shareDir).sort(), [
          'many-hosts-1',
          'many-hosts-2',
          'one-host',
          'report.txt',
        ]);
      },
    );

    assert.equal(await daemon.stop('SIGTERM'), 0);
  },
);
