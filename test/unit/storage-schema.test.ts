import { describe, expect, it } from "vitest";
import { Schema, type Migration, type Sql } from "../../src/storage/sql.ts";
import { sqliteSql } from "../support/memory-runtime.ts";

const A1: Migration = { name: "a-v1", up: "CREATE TABLE a (x INTEGER)" };
const A2: Migration = { name: "a-v2", up: "ALTER TABLE a ADD COLUMN y INTEGER" };
const B1: Migration = { name: "b-v1", up: "CREATE TABLE b (x INTEGER)" };
const ALL = [A1, A2, B1];

const tables = (sql: Sql) =>
  sql
    .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .toArray()
    .map((r) => r.name);

describe("Schema: each store's tables on its own first write", () => {
  it("creates nothing on reads, and only the writing store's tables on its first write", () => {
    const sql = sqliteSql();
    const schema = new Schema(sql, ALL);
    const a = schema.part([A1, A2]);
    const b = schema.part([B1]);
    expect(a.exists()).toBe(false);
    expect(b.exists()).toBe(false);
    expect(tables(sql)).toEqual([]);
    a.ensure();
    expect(tables(sql)).toEqual(["_migrations", "a"]);
    expect(a.exists()).toBe(true);
    expect(b.exists()).toBe(false);
    b.ensure();
    expect(tables(sql)).toEqual(["_migrations", "a", "b"]);
    expect(
      sql
        .exec<{ name: string }>("SELECT name FROM _migrations ORDER BY name")
        .toArray()
        .map((r) => r.name),
    ).toEqual(["a-v1", "a-v2", "b-v1"]);
  });

  it("brings a store's tables up to date when it finds an older version of them (after a deploy)", () => {
    const sql = sqliteSql();
    new Schema(sql, [A1]).part([A1]).ensure();
    sql.exec("INSERT INTO a (x) VALUES (1)");
    // The next version of the code adds A2; a new object (same database) reads the ledger again.
    const a = new Schema(sql, ALL).part([A1, A2]);
    expect(a.exists()).toBe(true);
    expect(sql.exec<{ x: number; y: number | null }>("SELECT x, y FROM a").toArray()).toEqual([{ x: 1, y: null }]);
    expect(tables(sql)).toEqual(["_migrations", "a"]);
  });

  it("reads a database whose tables were all created at once, as earlier versions did", () => {
    const sql = sqliteSql();
    const old = new Schema(sql, ALL);
    old.part(ALL).ensure();
    const again = new Schema(sql, ALL);
    expect(again.part([B1]).exists()).toBe(true);
    expect(again.part([A1, A2]).exists()).toBe(true);
  });

  it("refuses a part that is not in the schema (a capability's migration missing from its declaration)", () => {
    expect(() => new Schema(sqliteSql(), [A1]).part([B1])).toThrow(/b-v1/);
  });
});
