/**
 * `meshsim proxy --config FILE`: runs the live sidecar (src/live/proxy) in front of real
 * upstreams until SIGTERM or SIGINT, then shuts down gracefully as Envoy's drain does: stop
 * accepting, let requests in flight finish (up to --drain), close, exit 0.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { loadProxyConfig, proxyConfigWarnings } from '../../live/proxy/config.js';
import { formatDuration, parseDuration } from '../../core/units.js';
import { pluginOption, usePlugins, withInterrupt, type CommandContext } from './context.js';
import { helpText } from '../help.js';

interface ProxyFlags {
  readonly config: string;
  readonly drain: number;
  readonly plugin?: string[];
}

/** A drain time: a duration with its unit, as config files write them (`10s`, `500ms`), or plain milliseconds. */
function drainTime(value: string): number {
  if (/^\s*\d+\s*$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  try {
    return parseDuration(value);
  } catch (e) {
    throw new InvalidArgumentError(`expected a drain time like 10s or 500ms (or whole milliseconds): ${e instanceof Error ? e.message : String(e)}`);
  }
}

async function proxyCommand(flags: ProxyFlags, ctx: CommandContext): Promise<void> {
  await usePlugins(flags.plugin);
  const config = loadProxyConfig(flags.config);
  for (const w of proxyConfigWarnings(config)) ctx.io.stderr(`meshsim: warning: ${flags.config}: ${w}\n`);
  await withInterrupt(async (signal) => {
    // Imported here: undici and prom-client load only when a proxy starts, not for every command.
    const { startProxy, ListenError } = await import('../../live/proxy/index.js');
    let handle;
    try {
      handle = await startProxy(config);
    } catch (e) {
      // A port that cannot be bound is bad input; startProxy has stopped what it started.
      if (e instanceof ListenError) throw ctx.usageError(`${flags.config}: ${e.message}`);
      throw e;
    }
    const host = config.listen.host ?? '127.0.0.1';
    ctx.io.stdout(`meshsim proxy listening on http://${host}:${handle.port} (${config.upstreams.length} upstream${config.upstreams.length === 1 ? '' : 's'}, balancer ${config.mesh.balancer.kind})\n`);
    if (handle.adminPort !== undefined) ctx.io.stdout(`admin on http://127.0.0.1:${handle.adminPort} (/metrics, /ready, /stats)\n`);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      else signal.addEventListener('abort', () => resolve(), { once: true });
    });
    ctx.io.stderr(`meshsim proxy: draining (up to ${formatDuration(flags.drain)}; a second signal stops at once)\n`);
    await handle.close({ drainMs: flags.drain });
    const s = handle.stats();
    ctx.io.stderr(`meshsim proxy: stopped after ${s.requests} requests (${s.succeeded} succeeded, ${s.failed} failed)\n`);
  });
  ctx.setExit(0);
}

export function registerProxyCommand(program: Command, ctx: CommandContext): void {
  program
    .command('proxy')
    .description('run the live sidecar proxy: the same balancer and failover objects as the simulator, on real traffic')
    .requiredOption('--config <file>', `proxy config (YAML or JSON, meshsim/proxy@1)`)
    .option('--drain <time>', 'on SIGTERM/SIGINT, how long requests in flight may still finish (10s, 500ms; plain numbers are ms)', drainTime, 10_000)
    // Not PLUGIN_HELP: the proxy reads no scenario file; its config names the balancer.
    .option('--plugin <file>', "an ES module of yours exporting balancer definitions; the config's mesh.balancer.kind can then name their kinds (repeatable; docs/writing-a-policy.md)", pluginOption)
    .addHelpText(
      'after',
      helpText(
        '\nExamples:\n' +
          '  meshsim proxy --config examples/proxy.yaml\n' +
          '  meshsim proxy --config examples/proxy-hashing.yaml     # ring hash on a header\n' +
          '  meshsim proxy --config proxy.json --drain 2s\n' +
          '\nThe config names the listener, the admin listener (127.0.0.1 only: /metrics for\n' +
          'Prometheus, /ready, /stats), the upstreams (the only hosts ever contacted) and a `mesh`\n' +
          'block written as in scenario files (balancer, failover); for ring-hash and maglev,\n' +
          '`hashKey: { header }` names the request header to hash (Envoy\'s hash_policy) and an\n' +
          'upstream\'s `hashKey` its place on the ring (default: its address). It prints the\n' +
          'addresses it listens on, runs until SIGTERM or SIGINT, then stops accepting, drains and\n' +
          'exits.\n' +
          '\nExit codes:\n' +
          '  0   stopped by SIGTERM or SIGINT after draining\n' +
          '  2   bad input: an unreadable or invalid config, a missing or broken plugin,\n' +
          '      a port that cannot be bound\n' +
          '  70  internal error (please report it)',
      ),
    )
    .action((flags: ProxyFlags) => proxyCommand(flags, ctx));
}
