import { assert, describe, it } from "@effect/vitest"
import { fingerprint, fingerprintId } from "../../src/postmortem/Fingerprint"

describe("Fingerprint.fingerprint", () => {
  const cases: ReadonlyArray<readonly [string, string, string]> = [
    ["integer literal", "SELECT * FROM users WHERE id = 42", "select * from users where id = ?"],
    ["case, whitespace, trailing semicolon", "select *\n\t  from USERS   where ID=7 ;;", "select * from users where id = ?"],
    ["string with doubled quote", "SELECT 1 FROM t WHERE name = 'O''Brien'", "select ? from t where name = ?"],
    ["E-string with backslash escape", "SELECT * FROM t WHERE s = E'it\\'s' AND n = 1", "select * from t where s = ? and n = ?"],
    ["dollar quoting", "SELECT $fn$ body; with 'quotes' $fn$ AS b, $$x$$", "select ? as b, ?"],
    ["bit, hex and national strings", "SELECT B'1010', X'1F', N'abc'", "select ?, ?, ?"],
    ["floats, exponents, hex numbers", "SELECT 1.5, .5, 3e10, 2.5E-3, 0x1F", "select ?, ?, ?, ?, ?"],
    ["negative number vs subtraction", "SELECT a-1, b - 2, -3 FROM t WHERE x > -5", "select a - ?, b - ?, ? from t where x > ?"],
    ["PostgreSQL params kept as ?", "UPDATE t SET a = $1, b = $2 WHERE id = $10", "update t set a = ?, b = ? where id = ?"],
    ["JDBC ? and named :param", "SELECT * FROM t WHERE a = ? AND b = :name AND c = x::int", "select * from t where a = ? and b = ? and c = x::int"],
    ["IN list collapsed", "SELECT * FROM t WHERE id IN (1, 2, 3, 4, 5)", "select * from t where id in (?+)"],
    ["IN lists of any length give one fingerprint", "select * from t where id in ($1)", "select * from t where id in (?+)"],
    ["ANY(ARRAY[...]) collapsed", "SELECT * FROM t WHERE id = ANY(ARRAY[1,2,3])", "select * from t where id = any (array[?+])"],
    ["subquery in IN is kept", "SELECT * FROM t WHERE id IN (SELECT id FROM u WHERE v = 3)", "select * from t where id in (select id from u where v = ?)"],
    ["multi-row VALUES collapsed", "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z') RETURNING id", "insert into t (a, b) values (?, ?) returning id"],
    ["line and block comments stripped", "/* app:web */ SELECT 1 -- trailing\n FROM t /* a /* nested */ comment */ WHERE a = 1", "select ? from t where a = ?"],
    ["quoted identifiers keep case", "SELECT \"Name\" FROM \"Users\" WHERE \"Id\" = 5", "select \"Name\" from \"Users\" where \"Id\" = ?"],
    ["truncated string (pg_stat_activity cut at 1 kB)", "SELECT * FROM t WHERE note = 'abc", "select * from t where note = ?"],
    ["truncated IN list", "SELECT * FROM t WHERE id IN (1, 2, 3", "select * from t where id in (?+)"],
    ["unterminated comment", "SELECT 1 /* never closed", "select ?"],
    ["function calls", "SELECT pg_sleep(30), now(), coalesce(a, 'b')", "select pg_sleep(?), now(), coalesce(a, ?)"],
    ["identifiers with digits are not numbers", "SELECT t1.c2 FROM t1 JOIN t2 ON t1.id = t2.id", "select t1.c2 from t1 join t2 on t1.id = t2.id"],
    ["JSON operators", "SELECT doc->>'k', doc #> '{a,b}' FROM t WHERE doc @> '{}'", "select doc ->> ?, doc #> ? from t where doc @> ?"],
    ["multi-statement text as pg_stat_activity shows it", "BEGIN; SELECT 1 FROM t WHERE a = 2", "begin; select ? from t where a = ?"],
    ["empty", "   ", ""]
  ]
  for (const [title, sql, expected] of cases) {
    it(title, () => assert.strictEqual(fingerprint(sql), expected))
  }

  const mysql: ReadonlyArray<readonly [string, string, string]> = [
    ["backticks, double-quoted strings, # comments", "SELECT * FROM `Orders` WHERE note = \"hi\" # why\n AND id IN (1,2)", "select * from `Orders` where note = ? and id in (?+)"],
    ["backslash escapes in single quotes", "SELECT 'it\\'s', 1", "select ?, ?"]
  ]
  for (const [title, sql, expected] of mysql) {
    it(`mysql: ${title}`, () => assert.strictEqual(fingerprint(sql, { dialect: "mysql" }), expected))
  }

  it("statements differing only in literals share a fingerprint; different shapes do not", () => {
    assert.strictEqual(fingerprint("SELECT * FROM t WHERE id = 1"), fingerprint("select * from t where id=99999"))
    assert.notStrictEqual(fingerprint("SELECT * FROM t WHERE id = 1"), fingerprint("SELECT * FROM t WHERE pk = 1"))
  })

  it("literals (and secrets in them) never survive", () => {
    const fp = fingerprint("UPDATE users SET password_hash = 'hunter2-secret', token = E'zq9\\'x' WHERE email = 'a@b.c'")
    assert.notInclude(fp, "hunter2")
    assert.notInclude(fp, "zq9")
    assert.notInclude(fp, "a@b.c")
  })

  it("fingerprintId is a stable 16-hex-digit id", () => {
    const id = fingerprintId("select ?")
    assert.match(id, /^[0-9a-f]{16}$/)
    assert.strictEqual(id, fingerprintId(fingerprint("SELECT 42")))
    assert.notStrictEqual(id, fingerprintId("select ?, ?"))
  })
})
