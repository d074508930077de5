/**
 * The running proxy: validates and compiles each config into a Plan, reconciles listeners and
 * upstream connection pools, and swaps the Plan in with one assignment. A config that fails at any
 * step leaves the serving Plan untouched.
 *
 * Reload order (so that a failure can never leave a half-applied config):
 *   validate → compile (new undici pools created, old ones still open) → bind new listeners
 *   → swap Plan → close listeners no longer wanted → close pools no longer used (they drain).
 */
import type { ConfigSpec } from '../config/spec.js';
import { assertValidConfig } from '../config/validate.js';
import { compile } from '../config/compile.js';
import { ConfigError } from '../config/errors.js';
import { parseDuration } from '../config/units.js';
import { DispatcherRegistry } from '../balance/pool.js';
import { StateRegistry } from '../balance/state.js';
import { HealthCheckRegistry } from '../balance/health.js';
import { DnsRefresher, type DnsEntry } from '../balance/dns.js';
import { isIP } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseMatch } from './match.js';
import { serverTlsProfile } from '../tls/server-profile.js';
import type { TlsService } from '../tls/contracts.js';
import { Gateway } from './gateway.js';
import { Listener } from './listener.js';
import type { Plan } from './plan.js';
import { TunnelSet } from './upgrade.js';
import type { ApplyResult, ListenerInfo, Runtime, RuntimeOptions } from './runtime-api.js';
import type { CertificateStatus, PoolStatus, Telemetry, UpstreamStatus } from '../observe/contracts.js';
import { NOOP_METRICS } from '../observe/noop-metrics.js';
import { HttpCache, sameStorage } from '../cache/http-cache.js';
import { createStore } from '../cache/store/index.js';

class ProxyRuntime implements Runtime {
  private readonly opts: RuntimeOptions;
  private readonly registry = new DispatcherRegistry();
  private readonly states = new StateRegistry();
  private readonly health: HealthCheckRegistry;
  private readonly dns: DnsRefresher;
  private readonly tunnels = new TunnelSet();
  private readonly listenersByUrl = new Map<string, Listener>();
  private gateway: Gateway | null = null;
  private nextPlanId = 1;
  private closed = false;
  /** Reloads are serialised: a save during a reload waits for it. */
  private queue: Promise<unknown> = Promise.resolve();

  private readonly telemetry: Telemetry;
  /** Created with the first config that asks for TLS; kept (with its certificates) across reloads. */
  private tls: TlsService | null = null;
  /** The HTTP cache: kept (with its contents) across reloads while its storage settings stay the same. */
  private cache: HttpCache | null = null;

  constructor(opts: RuntimeOptions) {
    this.opts = opts;
    this.telemetry = { metrics: opts.metrics ?? null, live: opts.live ?? null };
    this.health = new HealthCheckRegistry(opts.logger);
    this.dns = new DnsRefresher(opts.logger);
  }

  get listeners(): ListenerInfo[] {
    return [...this.listenersByUrl.values()].map((l) => ({ url: l.url }));
  }

  get plan(): Plan | null {
    return this.gateway?.plan ?? null;
  }

  get planId(): number {
    return this.gateway?.plan.id ?? 0;
  }

  pools(): PoolStatus[] {
    const plan = this.gateway?.plan;
    if (!plan) return [];
    const now = Date.now();
    return [...plan.pools.values()].map((p) => ({
      name: p.name,
      balance: p.balance,
      upstreams: p.upstreams.map((u) => {
        const s = u.state;
        const state: UpstreamStatus['state'] = s.draining ? 'draining' : !s.healthy ? 'unhealthy' : s.isEjected(now) ? 'ejected' : 'healthy';
        return {
          url: u.url,
          label: u.label,
          state,
          inflight: s.inflight,
          latencyMs: Math.round(s.ewmaMs * 100) / 100,
          weight: u.weight,
          ...(s.isEjected(now) ? { ejectedUntil: s.ejectedUntil } : {}),
        };
      }),
    }));
  }

  certificates(): CertificateStatus[] {
    return this.tls?.certificates() ?? [];
  }

  httpCache(): HttpCache | null {
    return this.cache;
  }

  drain(pool: string, url: string, draining: boolean): boolean {
    const p = this.gateway?.plan.pools.get(pool);
    const u = p?.upstreams.find((x) => x.url === url || x.origin === url);
    if (!u) return false;
    if (u.state.draining !== draining) {
      u.state.draining = draining;
      this.opts.logger.info(draining ? 'upstream draining (admin)' : 'upstream back in rotation (admin)', { pool, upstream: u.label });
    }
    return true;
  }

  apply(spec: ConfigSpec): Promise<ApplyResult> {
    const run = this.queue.then(() => this.applyNow(spec));
    run.then(
      () => this.reported(true),
      () => this.reported(false),
    );
    this.queue = run.catch(() => {});
    return run;
  }

  private async applyNow(spec: ConfigSpec): Promise<ApplyResult> {
    if (this.closed) throw new Error('proxykit runtime is closed');
    const t0 = performance.now();
    assertValidConfig(spec);
    const { plan, dispatchers, states, budgets } = compile(
      spec,
      {
        dispatchers: this.registry,
        states: this.states,
        logger: this.opts.logger,
        metrics: this.telemetry.metrics ?? NOOP_METRICS,
        ...(this.opts.configDir ? { configDir: this.opts.configDir } : {}),
      },
      this.nextPlanId,
    );

    // Bind what is new before swapping, so an address in use fails the reload, not the proxy.
    const gateway = this.gateway ?? new Gateway(plan, this.opts.logger, this.telemetry);

    // TLS before binding: certificate files must load (or the reload fails as a whole), and
    // https listeners need the service for their handshakes.
    if (spec.tls !== undefined || plan.listen.some((l) => l.protocol === 'https')) {
      // Loaded on first use: the TLS stack (x509, ACME client) costs ~15 MB a plain HTTP proxy
      // should not carry.
      const { createTlsService } = await import('../tls/manager.js');
      const tls = (this.tls ??= createTlsService({
        dataDir: this.opts.dataDir ?? defaultDataDir(),
        logger: this.opts.logger,
        ...(this.opts.configDir ? { configDir: this.opts.configDir } : {}),
        // A new or renewed certificate may be the one for clients without SNI.
        onChange: () => {
          for (const l of this.listenersByUrl.values()) if (this.tls) l.refreshDefaultCertificate(this.tls);
        },
      }));
      await tls.reconcile(spec, managedNames(spec));
      gateway.tls = tls;
    }
    // The cache store opens before the swap too: a disk store that cannot open fails the reload.
    const storage = plan.cacheStorage;
    let nextCache: HttpCache | null = null;
    if (storage !== null) {
      if (this.cache !== null && sameStorage(this.cache.storage, storage)) {
        nextCache = this.cache;
      } else {
        try {
          // Two stores must never share a directory (each would delete the other's files): new
          // limits on the same directory close the old store first; it reopens with its entries.
          const dir = storage.disk?.dir;
          if (this.cache !== null && dir !== undefined && this.cache.storage.disk?.dir === dir) {
            const old = this.cache;
            this.cache = null;
            if (this.gateway !== null) this.gateway.cache = null;
            await old.close();
          }
          nextCache = new HttpCache(await createStore(storage), storage);
        } catch (err) {
          throw new ConfigError([{ message: `cache: cannot open the store: ${(err as Error).message}`, at: spec.at }]);
        }
      }
    }
    const tlsProfile = serverTlsProfile(typeof spec.tls === 'object' ? spec.tls.minVersion : undefined);
    const fresh: Listener[] = [];
    const wanted = new Map<string, Listener>();
    try {
      for (const address of plan.listen) {
        const existing = this.listenersByUrl.get(address.url);
        if (existing !== undefined && !existing.needsRebind(plan.limits)) {
          existing.updateLimits(plan.limits);
          if (this.tls) existing.refreshDefaultCertificate(this.tls, tlsProfile);
          wanted.set(address.url, existing);
          continue;
        }
        if (existing !== undefined) {
          // maxHeaderSize is fixed at creation: free the address, then bind a new server on it.
          await existing.close();
          this.listenersByUrl.delete(address.url);
        }
        const l = new Listener(address, plan.limits, gateway, this.tunnels, this.tls, tlsProfile);
        if (this.tls) l.refreshDefaultCertificate(this.tls);
        await l.listen();
        fresh.push(l);
        wanted.set(address.url, l);
      }
    } catch (err) {
      await Promise.all(fresh.map((l) => l.close()));
      if (nextCache !== null && nextCache !== this.cache) {
        if (this.cache === null && this.gateway?.plan.cacheStorage != null) {
          // The old store on this directory was closed to reopen it: keep serving from the new one.
          this.cache = nextCache;
          if (this.gateway !== null) this.gateway.cache = nextCache;
        } else {
          await nextCache.close();
        }
      }
      // Release pools this failed plan created and the serving plan does not use.
      const serving = this.gateway?.plan;
      if (serving) await this.registry.retain(usedDispatchers(serving)).catch(() => {});
      const e = err as NodeJS.ErrnoException;
      throw new ConfigError([
        {
          message: e.code === 'EADDRINUSE' ? `listen: address already in use (${describe(e)})` : `listen: ${e.message}`,
          at: spec.at,
          hint: e.code === 'EADDRINUSE' ? 'stop the other process or pick another port in `listen`' : undefined,
        },
      ]);
    }

    const firstHttps = [...wanted.values()].find((l) => l.address.protocol === 'https');
    gateway.httpsPort = firstHttps ? Number(new URL(firstHttps.url).port) || 443 : null;
    // The swap: one assignment. Requests already running keep the Plan they captured.
    if (nextCache !== null && storage !== null) nextCache.storage = storage;
    gateway.cache = nextCache;
    gateway.plan = plan;
    this.gateway = gateway;
    this.nextPlanId++;
    const previousCache = this.cache;
    this.cache = nextCache;
    if (previousCache !== null && previousCache.store !== nextCache?.store) void previousCache.close();

    for (const [url, l] of this.listenersByUrl) {
      if (!wanted.has(url)) void l.close();
    }
    this.listenersByUrl.clear();
    for (const [url, l] of wanted) this.listenersByUrl.set(url, l);
    void this.registry.retain(dispatchers);
    this.states.retain(states, budgets);
    this.reconcileBackground(plan, spec);

    return { planId: plan.id, listeners: this.listeners, compileMs: performance.now() - t0 };
  }

  private reported(ok: boolean): void {
    this.telemetry.metrics?.reload(ok);
    this.telemetry.live?.reload(ok);
  }

  /** Health checkers and DNS refreshers follow the Plan: kept when unchanged, started, or stopped. */
  private reconcileBackground(plan: Plan, spec: ConfigSpec): void {
    const specs = new Map(spec.routes.flatMap((r) => (r.target?.kind === 'pool' ? [[r.target.pool.name, r.target.pool] as const] : [])));
    this.health.reconcile(
      [...plan.pools.values()].map((p) => ({ name: p.name, spec: specs.get(p.name)?.health, upstreams: p.upstreams })),
    );
    const entries: DnsEntry[] = [];
    for (const p of plan.pools.values()) {
      const dnsSpec = specs.get(p.name)?.dns;
      for (const u of p.upstreams) {
        const hostname = new URL(u.origin).hostname;
        if (isIP(hostname.replace(/^\[|\]$/g, '')) !== 0) continue;
        entries.push({
          key: u.origin,
          hostname,
          refreshMs: dnsSpec?.refresh !== undefined ? parseDuration(dnsSpec.refresh) : 30_000,
          onChange: () => this.renewOrigin(u.origin),
        });
      }
    }
    this.dns.reconcile(entries);
  }

  /** DNS moved a host: fresh connection pools for it, repointed in the serving Plan. */
  private renewOrigin(origin: string): void {
    const swapped = this.registry.renew(origin);
    const plan = this.gateway?.plan;
    if (!plan) return;
    for (const p of plan.pools.values()) {
      for (const u of p.upstreams) {
        const fresh = swapped.get(u.dispatcher);
        if (fresh !== undefined) u.dispatcher = fresh;
      }
    }
  }

  async close(deadlineMs?: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.queue;
    const gateway = this.gateway;
    const deadline = deadlineMs ?? gateway?.plan.limits.drainTimeoutMs ?? 10_000;
    if (gateway) gateway.draining = true;
    const listeners = [...this.listenersByUrl.values()];
    const stopped = Promise.all(listeners.map((l) => l.close()));
    const drained = gateway ? gateway.idle() : Promise.resolve();
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), deadline);
    });
    const outcome = await Promise.race([Promise.all([stopped, drained]).then(() => 'done' as const), timedOut]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.opts.logger.warn('drain deadline reached; closing remaining connections', { deadlineMs: deadline, inflight: gateway?.inflight });
      for (const l of listeners) l.destroy();
    }
    this.tunnels.destroyAll();
    this.health.stopAll();
    this.dns.stopAll();
    await this.tls?.close();
    await this.cache?.close();
    if (outcome === 'timeout') {
      await this.registry.destroyAll();
    } else {
      // Pools close once their requests end; one that never ends must not keep the process alive.
      let t: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        this.registry.closeAll().then(() => true),
        new Promise<false>((resolve) => (t = setTimeout(() => resolve(false), deadline))),
      ]);
      clearTimeout(t);
      if (!closed) {
        this.opts.logger.warn('upstream connections still busy after the drain deadline; closing them', { deadlineMs: deadline });
        await this.registry.destroyAll();
      }
    }
    this.listenersByUrl.clear();
  }
}

/**
 * The names to get certificates for: every exact host in the routes (wildcard patterns need an
 * explicit `tls.domains` entry, since they need DNS-01) plus `tls.domains`.
 */
export function managedNames(spec: ConfigSpec): string[] {
  const names = new Set<string>();
  for (const r of spec.routes) {
    const m = parseMatch(r.match);
    if (m.host.kind === 'exact' && !m.host.name.startsWith('[')) names.add(m.host.name);
  }
  if (typeof spec.tls === 'object') for (const d of spec.tls.domains ?? []) names.add(d.toLowerCase());
  return [...names].sort();
}

/** `$XDG_DATA_HOME/proxykit` or `~/.local/share/proxykit`: where certificates live by default. */
function defaultDataDir(): string {
  const base = process.env.XDG_DATA_HOME ?? path.join(os.homedir(), '.local', 'share');
  return path.join(base, 'proxykit');
}

function usedDispatchers(plan: Plan): Set<import('undici').Pool> {
  const s = new Set<import('undici').Pool>();
  for (const p of plan.pools.values()) for (const u of p.upstreams) s.add(u.dispatcher);
  return s;
}

function describe(e: NodeJS.ErrnoException & { address?: string; port?: number }): string {
  return e.address !== undefined ? `${e.address}:${e.port}` : e.message;
}

export function createRuntime(opts: RuntimeOptions): Runtime {
  return new ProxyRuntime(opts);
}
