import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** One simulated host: a network namespace on a shared bridge, with its own address. */
export interface Host {
  name: string;
  ip: string;
  /** Starts a command inside the host; env passes through. */
  spawn(cmd: string, args: string[], env: Record<string, string>): ChildProcess;
  /** Kills every process of the host at once (SIGKILL): the machine dies. */
  killAll(): void;
}

export interface HostNetwork {
  hosts: Record<string, Host>;
  /** The address of this process (the client host) on the bridge. */
  clientIp: string;
  teardown(): void;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Whether this process may create network namespaces (root, not in a container that forbids it). */
export function netnsPermitted(): { ok: true } | { ok: false; reason: string } {
  const probe = `mtlp${randomBytes(3).toString('hex')}`;
  try {
    ip('netns', 'add', probe);
    ip('netns', 'del', probe);
    return { ok: true };
  } catch (err) {
    return { ok: false, reason: `'ip netns add' is not permitted here (${String((err as { stderr?: Buffer }).stderr ?? (err as Error).message).trim()})` };
  }
}

/**
 * Hosts on one bridge (10.<x>.<y>.0/24, this process at .1), each a network namespace joined by a
 * veth pair: processes in different hosts reach each other only through the bridge, by address
 * (127.0.0.1 is each host's own). Disks are not separated here: each process gets its own empty
 * DATA_DIR, and nothing else is shared but the network.
 */
export function createHostNetwork(names: string[]): HostNetwork {
  const tag = randomBytes(2).toString('hex');
  const subnet = `10.${200 + (parseInt(tag.slice(0, 2), 16) % 50)}.${parseInt(tag.slice(2), 16)}`;
  const bridge = `mtlbr${tag}`;
  const made: string[] = [];
  const teardown = () => {
    for (const ns of made) {
      try {
        for (const pid of execFileSync('ip', ['netns', 'pids', ns]).toString().split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
      } catch {
        /* gone */
      }
      try {
        ip('netns', 'del', ns);
      } catch {
        /* gone */
      }
    }
    try {
      ip('link', 'del', bridge);
    } catch {
      /* gone */
    }
  };
  try {
    ip('link', 'add', bridge, 'type', 'bridge');
    ip('addr', 'add', `${subnet}.1/24`, 'dev', bridge);
    ip('link', 'set', bridge, 'up');
    const hosts: Record<string, Host> = {};
    names.forEach((name, i) => {
      const ns = `mtl${tag}${name}`.slice(0, 30);
      const veth = `mtv${tag}${i}`;
      const addr = `${subnet}.${i + 2}`;
      ip('netns', 'add', ns);
      made.push(ns);
      ip('link', 'add', veth, 'type', 'veth', 'peer', 'name', `${veth}p`);
      ip('link', 'set', `${veth}p`, 'netns', ns);
      ip('link', 'set', veth, 'master', bridge);
      ip('link', 'set', veth, 'up');
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${addr}/24`, 'dev', `${veth}p`);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', `${veth}p`, 'up');
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      hosts[name] = {
        name: ns,
        ip: addr,
        spawn: (cmd, args, env) => spawn('ip', ['netns', 'exec', ns, cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }),
        killAll: () => {
          for (const pid of execFileSync('ip', ['netns', 'pids', ns]).toString().split(/\s+/).filter(Boolean)) process.kill(Number(pid), 'SIGKILL');
        },
      };
    });
    return { hosts, clientIp: `${subnet}.1`, teardown };
  } catch (err) {
    teardown();
    throw err;
  }
}
