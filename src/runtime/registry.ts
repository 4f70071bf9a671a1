import type { Database, Queryable } from '../store/database.ts';
import { upsertTarget } from '../store/runtime/target-queries.ts';
import type { CloudEvent } from '../model/cloud-event.ts';
import { DEFAULT_JOB_POLICY } from './retry-policy.ts';
import type { JobHandler, JobHooks, JobPolicy, JobSpec, Lane } from './runtime.ts';
import { resolveTargetPolicy, type ResolvedTargetPolicy, type TargetPolicy } from './targets/target-policy.ts';

export interface RegisteredHandler {
  handler: JobHandler;
  policy: Required<JobPolicy>;
  hooks: JobHooks;
}

/** An outbox subscription: events of the given types become jobs of type `event:<name>`. */
export interface Subscription {
  name: string;
  /** Event types; a trailing `*` matches a prefix (`order.*`). */
  types: readonly string[];
  /** (default: 'normal') */
  lane?: Lane;
  target?: string;
  policy?: JobPolicy;
  /**
   * Which events of its types the subscriber wants, judged from the event alone when the relay
   * reads it (pure and cheap: it runs in the relay's transaction). An event it refuses makes no
   * job. Default: every event of its types.
   */
  accepts?: (event: CloudEvent) => boolean;
  handle: (event: CloudEvent, context: Parameters<JobHandler>[1]) => Promise<void>;
}

/**
 * Turns a batch of relayed events into jobs, reading what it needs in the relay's
 * transaction: for subscribers that are data (webhook subscriptions), not code.
 */
export type EventRouter = (tx: Queryable, events: readonly CloudEvent[]) => Promise<JobSpec[]>;

/**
 * What a worker process can do: job handlers with their retry policies, target
 * policies, and outbox subscriptions. Flows and connectors add to it at start-up.
 */
export class RuntimeRegistry {
  readonly #handlers = new Map<string, RegisteredHandler>();
  readonly #targets = new Map<string, ResolvedTargetPolicy>();
  readonly #subscriptions: Subscription[] = [];
  readonly #routers: EventRouter[] = [];

  /** Registers the handler of a job type; a second registration of a type is a mistake and throws. */
  register<P>(type: string, handler: JobHandler<P>, policy: JobPolicy = {}, hooks: JobHooks<P> = {}): this {
    if (this.#handlers.has(type)) throw new Error(`a handler for job type "${type}" is already registered`);
    this.#handlers.set(type, { handler: handler as JobHandler, policy: { ...DEFAULT_JOB_POLICY, ...policy }, hooks: hooks as JobHooks });
    return this;
  }

  /** Defines (or redefines) the policy of a target. */
  defineTarget(name: string, policy: TargetPolicy): this {
    this.#targets.set(name, resolveTargetPolicy(policy));
    return this;
  }

  /** Subscribes a handler to outbox events; the relay turns each matching event into a job. */
  subscribe(subscription: Subscription): this {
    if (this.#subscriptions.some((s) => s.name === subscription.name)) throw new Error(`subscription "${subscription.name}" already exists`);
    this.#subscriptions.push(subscription);
    return this.register<CloudEvent>(`event:${subscription.name}`, (event, context) => subscription.handle(event, context), subscription.policy);
  }

  /** Adds an event router: the relay enqueues the jobs it returns with those of the subscriptions. */
  route(router: EventRouter): this {
    this.#routers.push(router);
    return this;
  }

  get routers(): readonly EventRouter[] {
    return this.#routers;
  }

  handler(type: string): RegisteredHandler | undefined {
    return this.#handlers.get(type);
  }

  /** The target's policy; a target nobody defined gets the defaults (a breaker, no limits). */
  target(name: string): ResolvedTargetPolicy {
    let policy = this.#targets.get(name);
    if (!policy) {
      policy = resolveTargetPolicy();
      this.#targets.set(name, policy);
    }
    return policy;
  }

  get subscriptions(): readonly Subscription[] {
    return this.#subscriptions;
  }

  get types(): string[] {
    return [...this.#handlers.keys()];
  }

  /** Writes every defined target's policy and slots to the database (done when a worker starts). */
  async publishTargets(db: Database): Promise<void> {
    for (const [name, policy] of this.#targets) await upsertTarget(db, name, policy, policy.maxConcurrency);
  }
}

/** True when an event type matches a subscription pattern. */
export function matchesType(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => (p.endsWith('*') ? type.startsWith(p.slice(0, -1)) : p === type));
}
