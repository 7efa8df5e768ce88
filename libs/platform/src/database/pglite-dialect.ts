import { type PGlite, protocol, types } from '@electric-sql/pglite';
import {
  CompiledQuery,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

/**
 * PGlite is a single connection, so the driver hands it to one Kysely
 * connection at a time; a transaction keeps it until commit or rollback.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite) {}
  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.pglite);
  }
  /** The introspector reads the catalogue: any tables. */
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PGliteDriver implements Driver {
  private queue: Promise<void> = Promise.resolve();
  private readonly releases = new WeakMap<DatabaseConnection, () => void>();
  private readonly connection: PGliteConnection;

  constructor(pglite: PGlite) {
    this.connection = new PGliteConnection(pglite);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    let release!: () => void;
    const previous = this.queue;
    this.queue = new Promise<void>((resolve) => (release = resolve));
    await previous;
    // A fresh wrapper per lease lets release find its own resolver.
    const lease = Object.create(this.connection) as PGliteConnection;
    this.releases.set(lease, release);
    return lease;
  }

  async beginTransaction(conn: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await conn.executeQuery(CompiledQuery.raw(`begin${isolation}`));
  }

  async commitTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(conn: DatabaseConnection): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw('rollback'));
  }

  async savepoint(conn: DatabaseConnection, name: string): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw(`savepoint ${quoted(name)}`));
  }

  async rollbackToSavepoint(conn: DatabaseConnection, name: string): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw(`rollback to savepoint ${quoted(name)}`));
  }

  async releaseSavepoint(conn: DatabaseConnection, name: string): Promise<void> {
    await conn.executeQuery(CompiledQuery.raw(`release savepoint ${quoted(name)}`));
  }

  async releaseConnection(conn: DatabaseConnection): Promise<void> {
    this.releases.get(conn)?.();
    this.releases.delete(conn);
  }

  async destroy(): Promise<void> {}
}

/**
 * A query for a named statement that PGlite parses and plans once (see PGliteConnection.prepared):
 * `db.executeQuery(preparedQuery(name, sql, values))` runs it in the driver's queue like any query.
 */
export function preparedQuery(name: string, sql: string, values: unknown[]): CompiledQuery {
  return { ...CompiledQuery.raw(sql, values), preparedName: name } as CompiledQuery;
}

/** A `COPY … FROM '/dev/blob'` with its input, run in the driver's queue like any query. */
export function copyQuery(sql: string, blob: Blob): CompiledQuery {
  return { ...CompiledQuery.raw(sql), copyInput: blob } as CompiledQuery;
}

interface Prepared {
  /** The parameters' type OIDs as the server inferred them when it parsed the statement. */
  parameterTypes: number[];
}

class PGliteConnection implements DatabaseConnection {
  private readonly statements = new Map<string, Prepared>();

  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const params = compiled.parameters as unknown[];
    const name = (compiled as { preparedName?: string }).preparedName;
    if (name !== undefined) return { rows: await this.prepared<R>(name, compiled.sql, params) };
    const copyInput = (compiled as { copyInput?: Blob }).copyInput;
    if (copyInput !== undefined) {
      const result = await this.pglite.query<R>(compiled.sql, [], { blob: copyInput });
      return { rows: [], numAffectedRows: toBigInt(result.affectedRows) };
    }
    if (params.length === 0) {
      // Simple protocol: allows several statements (migrations, functions).
      const results = await this.pglite.exec(compiled.sql);
      const last = results[results.length - 1];
      return { rows: (last?.rows ?? []) as R[], numAffectedRows: toBigInt(last?.affectedRows) };
    }
    const result = await this.pglite.query<R>(compiled.sql, params);
    return { rows: result.rows, numAffectedRows: toBigInt(result.affectedRows) };
  }

  /**
   * A named statement through the extended protocol: Parse (and Describe, for the parameter
   * types) the first time, then only Bind/Execute. PGlite's query() parses, describes and plans
   * the text on every call, which costs more than the statement itself for a one-row INSERT.
   * Parameters are serialized and columns parsed with the instance's own serializers and parsers,
   * as query() does.
   */
  private async prepared<R>(name: string, text: string, values: unknown[]): Promise<R[]> {
    const { serialize } = protocol;
    let statement = this.statements.get(name);
    if (!statement) {
      const { messages } = await this.pglite.execProtocol(
        concat(serialize.parse({ name, text }), serialize.describe({ type: 'S', name }), serialize.sync()),
      );
      const description = messages.find((m) => m.name === 'parameterDescription') as unknown as { dataTypeIDs: number[] } | undefined;
      statement = { parameterTypes: description?.dataTypeIDs ?? [] };
      this.statements.set(name, statement);
    }
    const serializers = this.pglite.serializers;
    const parameterTypes = statement.parameterTypes;
    const bound = values.map((value, i) => {
      if (value === null || value === undefined) return null;
      // The instance registers a serializer for every type it knows, array types included.
      const serializer = serializers[parameterTypes[i]];
      if (serializer) return serializer(value);
      return Array.isArray(value) ? (types.arraySerializer(value, String, parameterTypes[i]) as string) : String(value);
    });
    const { messages } = await this.pglite.execProtocol(
      concat(
        serialize.bind({ statement: name, values: bound }),
        serialize.describe({ type: 'P' }),
        serialize.execute({}),
        serialize.sync(),
      ),
    );
    const parsers = this.pglite.parsers;
    let fields: { name: string; dataTypeID: number }[] = [];
    const rows: R[] = [];
    for (const message of messages) {
      if (message.name === 'rowDescription') fields = (message as unknown as { fields: { name: string; dataTypeID: number }[] }).fields;
      else if (message.name === 'dataRow') {
        const cells = (message as unknown as { fields: (string | null)[] }).fields;
        rows.push(Object.fromEntries(fields.map((f, i) => [f.name, types.parseType(cells[i], f.dataTypeID, parsers)])) as R);
      }
    }
    return rows;
  }

  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('Streaming queries are not supported on PGlite');
  }
}

function quoted(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

function toBigInt(n: number | undefined): bigint | undefined {
  return n === undefined ? undefined : BigInt(n);
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.byteLength;
  }
  return out;
}
