#!/usr/bin/env python3
"""driver.py - the two users of a sync under test, and the judge.

Plays the provider's staff (SQL on casestore.person through psql, with the
PG* environment of the caller) and the council's staff (the simulator's REST
API), remembers in a state file every value each side last wrote, and at the
end checks both sides against it. Used by tests/integration/test_recovery.sh
and test_scaleout.sh. Python 3 standard library only.

The two sides edit different fields so that no edit conflicts with another:
the provider writes given_name ("Giv-<local id>-<n>"), the council writes
family_name ("Fam-<council id>-<n>"), n counting every change the driver
makes. Records are split into pools when the state is set up:

  E   both sides edit them (each its own field)
  PD  the provider edits and may delete them; the council never touches them
  CD  the council edits and may delete them; the provider never touches them
  PN  created by the provider during the run (the provider edits them)
  CN  created by the council during the run (the council edits them)
  Z   one record kept for a delete-versus-edit conflict (conflict-prepare)

so a deletion never meets a change from the other side (which would be a
conflict by design, docs/merge: a deletion and a change are never silently
merged).

Commands (all take --state FILE):
  setup --manifest F --url U --seed S   after the first clean sync: finds
                                        every generated record on both sides
  burst --n N                           N changes, both sides, mixed
  provider-backlog --updates U --creates C   (scale-out) U provider edits of
                                        distinct records, C provider creates
  conflict-prepare                      the provider edits Z, the council
                                        deletes it: prints Z's local key
  verify                                prints one "ok|..." or "not ok|..."
                                        line per check and "#" comments
  figures                               one line of counts
"""
import argparse
import http.client
import json
import os
import random
import subprocess
import sys
import time
import urllib.parse

sys.dont_write_bytecode = True	# no __pycache__ in the work tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "gen"))
import gen_persons  # noqa: E402


# ---- the two sides ---------------------------------------------------------

def psql(script, capture=True):
    """Runs SQL statements (each its own transaction) and returns the
    output lines (-A -t, tab separated)."""
    p = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-F", "\t",
                        "-v", "ON_ERROR_STOP=1", "-f", "-"],
                       input=script, text=True, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("psql failed: " + p.stderr.strip()[:500])
    return [l for l in p.stdout.split("\n") if l != ""]


class Council:
    def __init__(self, url):
        u = urllib.parse.urlparse(url)
        self.host = u.hostname
        self.port = u.port
        self.conn = None

    def req(self, method, path, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else None
        h = {"Content-Type": "application/json"} if data is not None else {}
        h.update(headers or {})
        for attempt in range(5):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port,
                                                           timeout=30)
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                js = json.loads(raw) if raw else None
                return r.status, r.getheader("ETag"), js
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt == 4:
                    raise
                time.sleep(0.1)

    def get(self, rid):
        return self.req("GET", "/api/v1/persons/" + rid)

    def dump(self):
        return self.req("GET", "/_sim/dump")[2]

    def stats(self):
        return self.req("GET", "/_sim/stats")[2]


# ---- state -----------------------------------------------------------------

def load(path):
    with open(path) as f:
        return json.load(f)


def save(path, st):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f)
    os.replace(tmp, path)


def local_rows():
    rows = []
    for l in psql("SELECT id, coalesce(la_child_id, ''), coalesce(given_name, ''), "
                  "coalesce(family_name, '') FROM casestore.person;\n"):
        lid, rid, g, f = l.split("\t")
        rows.append({"lid": int(lid), "rid": rid or None, "g": g, "f": f})
    return rows


def cmd_setup(a):
    man = load(a.manifest)
    rows = local_rows()
    by_rid = {r["rid"]: r for r in rows if r["rid"]}
    by_name = {}
    for r in rows:
        by_name.setdefault((r["g"], r["f"]), []).append(r)
    recs = {}
    missing = 0
    for c in man["council"]:
        r = by_rid.get(c["id"])
        if r is None:
            missing += 1
            continue
        recs["c" + c["id"]] = {"o": "c", "lid": r["lid"], "rid": c["id"],
                               "g": c["given_name"], "f": c["family_name"]}
    for i, p in enumerate(man["provider"]):
        m = by_name.get((p["given_name"], p["family_name"]), [])
        if len(m) != 1:
            missing += 1
            continue
        recs["p%d" % m[0]["lid"]] = {"o": "p", "lid": m[0]["lid"],
                                     "rid": m[0]["rid"], "g": p["given_name"],
                                     "f": p["family_name"]}
    if missing:
        print("driver setup: %d generated records not found in the provider "
              "store after the first sync" % missing, file=sys.stderr)
        return 1
    rng = random.Random("pools/%s" % a.seed)
    tags = sorted(recs)
    rng.shuffle(tags)
    ndel = max(3, len(tags) * a.delete_pool // 100)
    for i, t in enumerate(tags):
        recs[t]["pool"] = ("Z" if i == 0 else "PD" if i <= ndel else
                           "CD" if i <= 2 * ndel else "E")
        recs[t]["del"] = None
        recs[t]["new"] = False
    st = {"url": a.url, "seed": str(a.seed), "n": 0, "bursts": 0,
          "next_index": man["next_index"], "recs": recs,
          "initial": {"council": len(man["council"]),
                      "provider": len(man["provider"])},
          "count": {k: 0 for k in ("p_upd", "p_create", "p_del", "c_upd",
                                   "c_create", "c_del", "c_412", "z_del")},
          "anomalies": [], "z": None}
    save(a.state, st)
    return 0


# ---- changes ---------------------------------------------------------------

def pick(rng, st, side, op):
    """A target for op on side, or None."""
    want = {("p", "upd"): ("E", "PD", "PN"), ("c", "upd"): ("E", "CD", "CN"),
            ("p", "del"): ("PD",), ("c", "del"): ("CD",)}[(side, op)]
    key = "lid" if side == "p" else "rid"
    cand = [t for t, r in st["recs"].items()
            if r["pool"] in want and r["del"] is None and r.get(key)]
    if not cand:
        return None
    return rng.choice(sorted(cand))


def council_update(cn, st, tag, value):
    r = st["recs"][tag]
    for _ in range(50):
        s, etag, body = cn.get(r["rid"])
        if s != 200:
            st["anomalies"].append("council GET %s answered %s" % (r["rid"], s))
            return False
        body["name"] = dict(body.get("name") or {}, surname=value)
        for k in ("id", "version", "modified"):
            body.pop(k, None)
        s, _, _ = cn.req("PUT", "/api/v1/persons/" + r["rid"], body,
                         {"If-Match": etag})
        if s == 200:
            r["f"] = value
            st["count"]["c_upd"] += 1
            return True
        if s != 412:
            st["anomalies"].append("council PUT %s answered %s" % (r["rid"], s))
            return False
        st["count"]["c_412"] += 1
    st["anomalies"].append("council PUT %s: 50 times 412" % r["rid"])
    return False


def council_delete(cn, st, tag, counter_key="c_del"):
    r = st["recs"][tag]
    for _ in range(50):
        s, etag, _ = cn.get(r["rid"])
        if s != 200:
            st["anomalies"].append("council GET %s answered %s" % (r["rid"], s))
            return False
        s, _, _ = cn.req("DELETE", "/api/v1/persons/" + r["rid"], None,
                         {"If-Match": etag})
        if s == 204:
            st["count"][counter_key] += 1
            return True
        if s != 412:
            st["anomalies"].append("council DELETE %s answered %s" % (r["rid"], s))
            return False
        st["count"]["c_412"] += 1
    return False


def council_create(cn, st, gen):
    idx = st["next_index"]
    st["next_index"] += 1
    p = gen.person(idx)
    s, _, body = cn.req("POST", "/api/v1/persons",
                        gen_persons.remote_json(p, None, gen.postcode(idx)))
    if s != 201:
        st["anomalies"].append("council POST answered %s" % s)
        return
    rid = body["id"]
    st["recs"]["c" + rid] = {"o": "c", "lid": None, "rid": rid,
                             "g": p["given_name"], "f": p["family_name"],
                             "pool": "CN", "del": None, "new": True}
    st["count"]["c_create"] += 1


def run_provider(st, ops):
    """ops: [(op, tag-or-person, value)] in order, in one psql session."""
    if not ops:
        return
    sql = []
    for op, x, v in ops:
        if op == "upd":
            sql.append("UPDATE casestore.person SET given_name = %s WHERE id = %d;"
                       % (gen_persons.sql_literal(v), st["recs"][x]["lid"]))
        elif op == "del":
            sql.append("DELETE FROM casestore.person WHERE id = %d;"
                       % st["recs"][x]["lid"])
        else:
            sql.append("INSERT INTO casestore.person (%s) VALUES %s RETURNING id;"
                       % (", ".join(gen_persons.SQL_COLUMNS),
                          gen_persons.sql_values(x)))
    ids = psql("\n".join(sql) + "\n")
    for op, x, v in ops:
        if op == "upd":
            st["recs"][x]["g"] = v
            st["count"]["p_upd"] += 1
        elif op == "del":
            st["count"]["p_del"] += 1
        else:
            lid = int(ids.pop(0))
            st["recs"]["p%d" % lid] = {"o": "p", "lid": lid, "rid": None,
                                       "g": x["given_name"],
                                       "f": x["family_name"], "pool": "PN",
                                       "del": None, "new": True}
            st["count"]["p_create"] += 1


def cmd_burst(a):
    st = load(a.state)
    st["bursts"] += 1
    rng = random.Random("burst/%s/%d" % (st["seed"], st["bursts"]))
    gen = gen_persons.Gen(st["seed"])
    cn = Council(st["url"])
    done = 0
    chunks = max(1, min(4, a.n // 8))
    for ci in range(chunks):
        want = a.n // chunks + (1 if ci < a.n % chunks else 0)
        pops, cops = [], []
        for _ in range(want):
            side = rng.choice("pc")
            op = rng.choices(["upd", "create", "del"], [80, 16, 4])[0]
            st["n"] += 1
            n = st["n"]
            tag = pick(rng, st, side, op) if op != "create" else None
            if op != "create" and tag is None:
                op = "create"
            if side == "p":
                if op == "upd":
                    pops.append(("upd", tag, "Giv-%d-%d" % (st["recs"][tag]["lid"], n)))
                elif op == "del":
                    st["recs"][tag]["del"] = "p"	# no later pick in this chunk
                    pops.append(("del", tag, None))
                else:
                    idx = st["next_index"]
                    st["next_index"] += 1
                    pops.append(("create", gen.person(idx), None))
            else:
                if op == "del":
                    st["recs"][tag]["del"] = "c"	# likewise
                cops.append((op, tag, n))
        run_provider(st, pops)
        for op, tag, n in cops:
            if op == "upd":
                council_update(cn, st, tag, "Fam-%s-%d" % (st["recs"][tag]["rid"], n))
            elif op == "del":
                if not council_delete(cn, st, tag):
                    st["recs"][tag]["del"] = None
            else:
                council_create(cn, st, gen)
        done += want
    save(a.state, st)
    print("burst %d: %d changes (total %d)" % (st["bursts"], done, st["n"]))
    return 0


def cmd_provider_backlog(a):
    """Scale-out: U edits of distinct existing records, C creates."""
    st = load(a.state)
    rng = random.Random("backlog/%s" % st["seed"])
    gen = gen_persons.Gen(st["seed"])
    cand = sorted(t for t, r in st["recs"].items()
                  if r["del"] is None and r["lid"] and r["pool"] != "Z")
    if len(cand) < a.updates:
        print("driver: only %d records to edit" % len(cand), file=sys.stderr)
        return 1
    ops = []
    for t in rng.sample(cand, a.updates):
        st["n"] += 1
        ops.append(("upd", t, "Giv-%d-%d" % (st["recs"][t]["lid"], st["n"])))
    for _ in range(a.creates):
        st["n"] += 1
        idx = st["next_index"]
        st["next_index"] += 1
        ops.append(("create", gen.person(idx), None))
    rng.shuffle(ops)
    for i in range(0, len(ops), 2000):
        run_provider(st, ops[i:i + 2000])
    save(a.state, st)
    return 0


def cmd_conflict_prepare(a):
    st = load(a.state)
    z = [t for t, r in st["recs"].items() if r["pool"] == "Z"][0]
    r = st["recs"][z]
    st["n"] += 1
    run_provider(st, [("upd", z, "Giv-%d-%d" % (r["lid"], st["n"]))])
    cn = Council(st["url"])
    ok = council_delete(cn, st, z, "z_del")
    st["z"] = {"tag": z, "council_deleted": ok}
    save(a.state, st)
    print(r["lid"])
    return 0 if ok else 1


# ---- the judge -------------------------------------------------------------

class Judge:
    def __init__(self):
        self.lines = []

    def check(self, cond, desc, detail=()):
        self.lines.append(("ok|" if cond else "not ok|") + desc)
        if not cond:
            for d in list(detail)[:8]:
                self.lines.append("#   " + d)

    def note(self, s):
        self.lines.append("# " + s)


def cmd_verify(a):
    st = load(a.state)
    cn = Council(st["url"])
    J = Judge()
    rows = local_rows()
    dump = cn.dump()
    stats = cn.stats()
    council_all = {r["id"]: r for r in dump["collections"].get("persons", [])}
    live = {i: r for i, r in council_all.items() if not r.get("deleted")}
    recs = st["recs"]
    z = st.get("z")
    ztag = z["tag"] if z else None
    zlid = recs[ztag]["lid"] if ztag else None
    # The conflict record is judged on its own below.
    rows_nz = [r for r in rows if r["lid"] != zlid]
    by_lid = {r["lid"]: r for r in rows}
    by_rid = {}
    for r in rows:
        if r["rid"]:
            by_rid.setdefault(r["rid"], []).append(r)
    pid_of = {}
    for i, r in live.items():
        pid = (r.get("identifiers") or {}).get("providerId")
        if pid is not None:
            pid_of.setdefault(str(pid), []).append(i)

    # -- no duplicates ------------------------------------------------------
    dups = {p: ids for p, ids in pid_of.items() if len(ids) > 1}
    J.check(not dups, "no two live council records share a providerId "
            "(no create reached the council twice)",
            ["providerId %s: council records %s" % (p, ",".join(ids))
             for p, ids in sorted(dups.items())])
    nulls = [r["lid"] for r in rows_nz if not r["rid"]]
    J.check(not nulls, "every provider row carries its council id (la_child_id)",
            ["%d rows without la_child_id, e.g. id %s" % (len(nulls),
             ",".join(map(str, nulls[:5])))])
    ldup = {k: v for k, v in by_rid.items() if len(v) > 1}
    J.check(not ldup, "no two provider rows share a la_child_id",
            ["la_child_id %s: rows %s" % (k, [r["lid"] for r in v])
             for k, v in ldup.items()])
    lset = set(r["rid"] for r in rows_nz if r["rid"])
    zrid_now = by_lid[zlid]["rid"] if zlid in by_lid else None
    cset = set(live) - ({zrid_now} if zrid_now else set())
    only_l = sorted(lset - cset)
    only_c = sorted(cset - lset)
    J.check(not only_l and not only_c,
            "every provider record exists at the council and vice versa",
            ["%d provider rows whose council record is missing or deleted, e.g. %s"
             % (len(only_l), ",".join(only_l[:5])),
             "%d live council records unknown to the provider, e.g. %s"
             % (len(only_c), ",".join(only_c[:5]))])

    # -- each expected record, its values -----------------------------------
    alive = {t: r for t, r in recs.items() if r["del"] is None and t != ztag}
    miss_l, miss_c, bad_g, bad_f, bad_pid = [], [], [], [], []
    for t, r in sorted(alive.items()):
        if r["lid"] is not None:
            lr = by_lid.get(r["lid"])
        else:
            m = by_rid.get(r["rid"], [])
            lr = m[0] if m else None
        if lr is None:
            miss_l.append(t)
            continue
        rid = r["rid"] or lr["rid"]
        cr = live.get(rid) if rid else None
        if cr is None:
            miss_c.append(t)
            continue
        cg = (cr.get("name") or {}).get("forename")
        cf = (cr.get("name") or {}).get("surname")
        if lr["g"] != r["g"] or cg != r["g"]:
            bad_g.append("%s (local id %s, council id %s): want %r, provider %r, "
                         "council %r" % (t, lr["lid"], rid, r["g"], lr["g"], cg))
        if lr["f"] != r["f"] or cf != r["f"]:
            bad_f.append("%s (local id %s, council id %s): want %r, provider %r, "
                         "council %r" % (t, lr["lid"], rid, r["f"], lr["f"], cf))
        if r["o"] == "p":
            pid = (cr.get("identifiers") or {}).get("providerId")
            if str(pid) != str(lr["lid"]):
                bad_pid.append("%s: council %s has providerId %r" % (t, rid, pid))
    n_alive = len(alive)
    J.check(not miss_l and len(rows_nz) == n_alive,
            "the provider store holds the %d expected records, each once" % n_alive,
            ["%d provider rows (without the conflict record), %d expected"
             % (len(rows_nz), n_alive)] +
            ["missing at the provider: %s" % t for t in miss_l[:5]])
    J.check(not miss_c and len(cset) == n_alive,
            "the council holds the %d expected live records, each once" % n_alive,
            ["%d live council records (without the conflict record), %d expected"
             % (len(cset), n_alive)] +
            ["missing at the council: %s" % t for t in miss_c[:5]])
    J.check(not bad_g, "given_name on both sides is the provider's last write "
            "(%d records)" % n_alive, ["%d records differ" % len(bad_g)] + bad_g)
    J.check(not bad_f, "family_name on both sides is the council's last write "
            "(%d records)" % n_alive, ["%d records differ" % len(bad_f)] + bad_f)
    J.check(not bad_pid, "provider records carry their providerId at the council",
            ["%d records differ" % len(bad_pid)] + bad_pid)

    # -- deletions ------------------------------------------------------------
    pdel = [r for r in recs.values() if r["del"] == "p"]
    cdel = [r for r in recs.values() if r["del"] == "c"]
    bad = []
    for r in pdel:
        if r["lid"] in by_lid:
            bad.append("provider-deleted id %s is back in the provider store" % r["lid"])
        c = council_all.get(r["rid"])
        if c is None or not c.get("deleted"):
            bad.append("provider-deleted id %s: council %s is %s" % (
                r["lid"], r["rid"], "absent" if c is None else "live"))
    J.check(not bad, "the provider's %d deletions arrived: tombstones at the "
            "council" % len(pdel), ["%d problems" % len(bad)] + bad)
    bad = []
    for r in cdel:
        if r["lid"] in by_lid or r["rid"] in by_rid:
            bad.append("council-deleted %s still has provider row %s" % (
                r["rid"], r["lid"]))
    J.check(not bad, "the council's %d deletions arrived: rows gone at the "
            "provider" % len(cdel), ["%d problems" % len(bad)] + bad)

    # -- the conflict record -------------------------------------------------
    z_recreated = 0
    if z:
        zr = recs[ztag]
        found = pid_of.get(str(zlid), [])
        lr = by_lid.get(zlid)
        z_recreated = 1 if found else 0
        det = ["council records with providerId %s: %s" % (zlid, found or "none"),
               "provider row %s: %s" % (zlid, lr)]
        good = (len(found) == 1 and lr is not None and lr["rid"] == found[0]
                and lr["g"] == zr["g"] and
                (live[found[0]].get("name") or {}).get("forename") == zr["g"])
        J.check(good, "the delete-versus-edit conflict, resolved 'take local', "
                "recreated the record at the council once with the provider's "
                "edit", det)

    # -- the audit trail: each create once -------------------------------------
    cnt_r, cnt_l = {}, {}
    for l in psql("SELECT action, coalesce(local_key, ''), coalesce(remote_id, '') "
                  "FROM casesync.audit WHERE entity = 'person' AND action IN "
                  "('create_remote', 'create_local');\n"):
        act, lk, rid = l.split("\t")
        if act == "create_remote":
            cnt_r[lk] = cnt_r.get(lk, 0) + 1
        else:
            cnt_l[rid] = cnt_l.get(rid, 0) + 1
    want_r = {str(r["lid"]): (1,) for r in recs.values() if r["o"] == "p"}
    if z:
        # The re-creation that resolves the conflict may be audited as a
        # create_remote too.
        k = str(zlid)
        want_r[k] = (1, 2) if recs[ztag]["o"] == "p" else (0, 1)
    want_l = {r["rid"]: (1,) for r in recs.values() if r["o"] == "c"}
    for name, got, want, what in (
            ("create_remote", cnt_r, want_r, "provider create"),
            ("create_local", cnt_l, want_l, "council create")):
        bad = []
        for k in sorted(set(got) | set(want)):
            n = got.get(k, 0)
            if n not in want.get(k, (0,)):
                bad.append("%s %s: %d rows%s" % (
                    "local key" if name == "create_remote" else "council id",
                    k, n, "" if k in want else " (not a %s)" % what))
        J.check(not bad, "audit: one %s row per %s (%d)" % (name, what, len(
            [k for k in want if want[k] != (0, 1)])),
                ["%d rows in all, %d keys wrong" % (sum(got.values()), len(bad))]
                + bad)

    # -- the council's counters -----------------------------------------------
    c = st["count"]
    want_created = (st["initial"]["provider"] + c["p_create"] + c["c_create"]
                    + z_recreated)
    J.check(stats.get("created") == want_created,
            "simulator 'created' = %d: %d provider-only at start + %d provider "
            "creates + %d council creates by the test%s (no POST applied twice)"
            % (want_created, st["initial"]["provider"], c["p_create"],
               c["c_create"], " + 1 conflict re-creation" if z_recreated else ""),
            ["got %r" % stats.get("created")])
    want_deleted = c["p_del"] + c["c_del"] + c["z_del"]
    J.check(stats.get("deleted") == want_deleted,
            "simulator 'deleted' = %d: %d provider deletions + %d by the "
            "council (test)" % (want_deleted, c["p_del"], c["c_del"] + c["z_del"]),
            ["got %r" % stats.get("deleted")])
    bound = (c["c_upd"] + c["p_upd"] + st["initial"]["council"] + c["c_create"])
    J.check(isinstance(stats.get("updated"), int) and stats["updated"] <= bound,
            "simulator 'updated' is at most %d: %d council edits by the test + "
            "one per provider edit (%d) + one providerId per council-born record "
            "(%d) (no PUT applied twice)" % (bound, c["c_upd"], c["p_upd"],
                                             st["initial"]["council"] + c["c_create"]),
            ["got %r" % stats.get("updated")])
    J.check(not st["anomalies"], "the test's own council requests all succeeded",
            st["anomalies"][:8])
    J.note("simulator stats: created=%s updated=%s deleted=%s replays=%s "
           "writes=%s requests=%s" % tuple(stats.get(k) for k in (
               "created", "updated", "deleted", "replays", "writes", "requests")))
    J.note("records checked: %d alive, %d provider-deleted, %d council-deleted"
           % (n_alive, len(pdel), len(cdel)))
    for l in J.lines:
        print(l)
    return 0


def cmd_figures(a):
    st = load(a.state)
    c = st["count"]
    print("changes=%d provider: %d edits, %d creates, %d deletes; council: %d "
          "edits, %d creates, %d deletes (%d If-Match retries)" % (
              st["n"], c["p_upd"], c["p_create"], c["p_del"], c["c_upd"],
              c["c_create"], c["c_del"] + c["z_del"], c["c_412"]))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--state", required=True)
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("setup")
    s.add_argument("--manifest", required=True)
    s.add_argument("--url", required=True)
    s.add_argument("--seed", default="1")
    s.add_argument("--delete-pool", type=int, default=4,
                   help="percent of the records in each deletion pool")
    s = sub.add_parser("burst")
    s.add_argument("--n", type=int, required=True)
    s = sub.add_parser("provider-backlog")
    s.add_argument("--updates", type=int, required=True)
    s.add_argument("--creates", type=int, required=True)
    sub.add_parser("conflict-prepare")
    sub.add_parser("verify")
    sub.add_parser("figures")
    a = ap.parse_args()
    return {"setup": cmd_setup, "burst": cmd_burst,
            "provider-backlog": cmd_provider_backlog,
            "conflict-prepare": cmd_conflict_prepare, "verify": cmd_verify,
            "figures": cmd_figures}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
