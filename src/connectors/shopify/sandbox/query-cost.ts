import {
  getNamedType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  valueFromASTUntyped,
  type FragmentDefinitionNode,
  type GraphQLObjectType,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

/**
 * Query cost as Shopify documents it for the GraphQL Admin API: a scalar or enum costs 0, an
 * object 1, a connection 2 plus `first` times the cost of one node, a mutation's top-level
 * field 10. The requested cost is taken up front from the bucket; the actual cost (the objects
 * really returned) is what the answer reports, and the difference is given back.
 */

const MUTATION_COST = 10;

function unwrapList(type: GraphQLOutputType): boolean {
  const inner = isNonNullType(type) ? type.ofType : type;
  return isListType(inner);
}

/** The requested cost of one operation. */
export function requestedCost(
  schema: GraphQLSchema,
  operation: OperationDefinitionNode,
  fragments: Record<string, FragmentDefinitionNode>,
  variables: Record<string, unknown>,
): number {
  if (operation.operation === 'mutation') {
    return operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD && !s.name.value.startsWith('__')).length * MUTATION_COST;
  }
  const root = schema.getQueryType();
  return root ? selectionCost(root, operation.selectionSet, fragments, variables) : 0;
}

function selectionCost(parent: GraphQLObjectType, set: SelectionSetNode, fragments: Record<string, FragmentDefinitionNode>, variables: Record<string, unknown>): number {
  let cost = 0;
  for (const selection of set.selections) {
    if (selection.kind === Kind.INLINE_FRAGMENT) {
      cost += selectionCost(parent, selection.selectionSet, fragments, variables);
      continue;
    }
    if (selection.kind === Kind.FRAGMENT_SPREAD) {
      const fragment = fragments[selection.name.value];
      if (fragment) cost += selectionCost(parent, fragment.selectionSet, fragments, variables);
      continue;
    }
    const field = parent.getFields()[selection.name.value];
    if (!field) continue;
    const named = getNamedType(field.type);
    if (isLeafType(named) || !isObjectType(named) || !selection.selectionSet) continue;
    const args = Object.fromEntries((selection.arguments ?? []).map((a) => [a.name.value, valueFromASTUntyped(a.value, variables)]));
    const first = typeof args.first === 'number' ? args.first : undefined;
    const children = selectionCost(named, selection.selectionSet, fragments, variables);
    if (named.name.endsWith('Connection')) {
      cost += 2 + (first ?? 1) * children;
    } else if (unwrapList(field.type)) {
      // A plain list (nodes of a connection, quantities by name, a first-limited list): one object per element.
      const names = Array.isArray(args.names) ? args.names.length : undefined;
      cost += (first ?? names ?? 1) * (1 + children);
    } else {
      cost += 1 + children;
    }
  }
  return cost;
}

/** The actual cost: one point per object in the answer's data (10 per mutation field). */
export function actualCost(operation: OperationDefinitionNode, data: unknown): number {
  if (operation.operation === 'mutation') return requestedMutationFields(operation) * MUTATION_COST;
  const count = (value: unknown): number => {
    if (Array.isArray(value)) return value.reduce((sum: number, v) => sum + count(v), 0);
    if (value !== null && typeof value === 'object') return 1 + Object.values(value).reduce((sum: number, v) => sum + count(v), 0);
    return 0;
  };
  // The root object itself is not charged.
  return data !== null && typeof data === 'object' ? Object.values(data).reduce((sum: number, v) => sum + count(v), 0) : 0;
}

function requestedMutationFields(operation: OperationDefinitionNode): number {
  return operation.selectionSet.selections.filter((s) => s.kind === Kind.FIELD).length;
}

/** The sandbox's leaky bucket of one shop (per app). */
export class LeakyBucket {
  maximumAvailable: number;
  restoreRate: number;
  #available: number;
  #at = Date.now();

  constructor(maximumAvailable = 1000, restoreRate = 50) {
    this.maximumAvailable = maximumAvailable;
    this.restoreRate = restoreRate;
    this.#available = maximumAvailable;
  }

  /** Points available now. */
  available(): number {
    const now = Date.now();
    this.#available = Math.min(this.maximumAvailable, this.#available + ((now - this.#at) / 1000) * this.restoreRate);
    this.#at = now;
    return this.#available;
  }

  /** Takes cost points if they are there. */
  tryTake(cost: number): boolean {
    if (this.available() < cost) return false;
    this.#available -= cost;
    return true;
  }

  /** Gives back points taken but not used (requested minus actual). */
  giveBack(points: number): void {
    this.#available = Math.min(this.maximumAvailable, this.available() + Math.max(0, points));
  }

  /** Resizes the bucket (admin API); it starts full. */
  configure(maximumAvailable: number, restoreRate: number): void {
    this.maximumAvailable = maximumAvailable;
    this.restoreRate = restoreRate;
    this.#available = maximumAvailable;
    this.#at = Date.now();
  }

  status() {
    return { maximumAvailable: this.maximumAvailable, currentlyAvailable: Math.floor(this.available()), restoreRate: this.restoreRate };
  }
}
