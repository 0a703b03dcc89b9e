#!/usr/bin/env python3
"""gen_persons.py - seeded, fictional children's records for tests and benchmarks.

Writes, from one seed (the same seed and sizes always give the same bytes):

  --council-out FILE   a council simulator fixture (lcs-sim --fixture) of N
                       persons in the shape mappings/lcs-rest/person.json
                       reads: {"persons": [{"id", "name": {...}, ...}]}
  --provider-sql FILE  SQL inserting M provider-only persons into
                       casestore.person (no la_child_id: the council does not
                       know them yet)
  --manifest FILE      what was generated, as JSON: the seed, the sizes and,
                       for every person, its side, council id (council side),
                       given and family name, so a test can find the rows
                       again after loading them

Sizes come from a named scale (--scale), each overridable (--council,
--provider):

  tiny    council 20,    provider 10      a quick look
  small   council 200,   provider 100     make check
  pilot   council 5000,  provider 2000    a pilot council's caseload
  large   council 50000, provider 20000   benchmarks

Every value is valid for mappings/model.json: census codes (gender,
ethnicity, disability, UPN unknown reasons), UPNs of the census format with
their check letter, NHS numbers in the 999 test range with a valid modulus 11
check digit, real calendar dates, postcodes in the ZZ99 pseudo area. Names are
made of syllables, so no real person is named; family names are unique across
the whole generated set, so (given_name, family_name) identifies a record.

Python 3 standard library only. Import it to make further records the same
way (Gen.person(), remote_json(), sql_values()): tests/chaos/driver.py does.
"""
import argparse
import datetime
import json
import random
import sys

SCALES = {
    "tiny": (20, 10),
    "small": (200, 100),
    "pilot": (5000, 2000),
    "large": (50000, 20000),
}

# Canonical (census) code lists, from mappings/model.json.
ETHNICITY = ["WBRI", "WIRI", "WIRT", "WOTH", "WROM", "MWBC", "MWBA", "MWAS",
             "MOTH", "AIND", "APKN", "ABAN", "AOTH", "BCRB", "BAFR", "BOTH",
             "CHNE", "OOTH", "REFU", "NOBT"]
# Roughly the shape of a caseload: mostly White British, every code in use.
ETHNICITY_WEIGHTS = [60, 2, 1, 5, 1, 2, 2, 2, 2, 3, 3, 2, 1, 2, 4, 1, 1, 2, 1, 3]
DISABILITY = ["MOB", "HAND", "PC", "INC", "COMM", "LD", "HEAR", "VIS", "BEH",
              "CON", "AUT", "DDA"]
UPN_UNKNOWN = ["UN1", "UN2", "UN3", "UN4", "UN5"]
# Census gender code -> the web service's letter (mappings/lcs-rest/codelists.json).
GENDER_REMOTE = {"1": "M", "2": "F", "0": "U", "9": "X"}

GIVEN_HEAD = ["Al", "Bri", "Cal", "Da", "El", "Fen", "Gwy", "Hal", "Ika", "Jor",
              "Kes", "Lu", "Mar", "Ny", "Or", "Pel", "Quin", "Ros", "Sel", "Tam",
              "Ul", "Vey", "Wen", "Yar", "Zo"]
GIVEN_TAIL = ["a", "an", "en", "ia", "o", "is", "ey", "el", "in", "ette", "ric",
              "wyn"]
FAMILY_SYL = ["bar", "cor", "dun", "fal", "gar", "hob", "kel", "lom", "mer",
              "nor", "pen", "quar", "ras", "sel", "tor", "vel", "wim", "yal",
              "zen", "ash", "bry", "cal", "dor", "ems"]
FAMILY_END = ["ford", "wick", "by", "ton", "more", "field", "ley", "worth",
              "stead", "combe", "dale", "hurst"]

# UPN check letter (DfE): weights 2..13 over characters 2-13, sum mod 23.
UPN_CHECK = "ABCDEFGHJKLMNPQRTUVWXYZ"


def upn_from_digits(digits12):
    total = sum(int(c) * (i + 2) for i, c in enumerate(digits12))
    return UPN_CHECK[total % 23] + digits12


def nhs_from_digits(digits9):
    total = sum(int(c) * (10 - i) for i, c in enumerate(digits9))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10:
        return None
    return digits9 + str(check)


def family_name(index):
    """Unique for every index >= 0: the index in mixed radix, as syllables."""
    parts = []
    n = index
    parts.append(FAMILY_SYL[n % len(FAMILY_SYL)])
    n //= len(FAMILY_SYL)
    parts.append(FAMILY_END[n % len(FAMILY_END)])
    n //= len(FAMILY_END)
    while n:
        n -= 1
        parts.insert(0, FAMILY_SYL[n % len(FAMILY_SYL)])
        n //= len(FAMILY_SYL)
    return "".join(parts).capitalize()


class Gen:
    """A seeded source of persons. Each person() call draws from its own
    random stream (seed, index), so person i is the same whatever was asked
    for before it."""

    def __init__(self, seed, today=datetime.date(2025, 9, 1)):
        self.seed = seed
        self.today = today

    def _rng(self, index, salt=""):
        return random.Random("%s/%s/%d" % (self.seed, salt, index))

    def person(self, index, unborn_rate=0.02):
        """A canonical person (census codes, ISO dates, None for absent)."""
        r = self._rng(index)
        p = {
            "given_name": r.choice(GIVEN_HEAD) + r.choice(GIVEN_TAIL),
            "family_name": family_name(index),
            "date_of_birth": None,
            "expected_date_of_birth": None,
            "gender": r.choices(["1", "2", "9"], [49, 49, 2])[0],
            "upn": None,
            "upn_unknown": None,
            "nhs_number": None,
            "ethnicity": r.choices(ETHNICITY, ETHNICITY_WEIGHTS)[0],
            "disabilities": None,
        }
        if r.random() < unborn_rate:
            p["expected_date_of_birth"] = (
                self.today + datetime.timedelta(days=r.randint(14, 200))).isoformat()
            p["gender"] = "0"
            p["upn_unknown"] = "UN6"
            p["ethnicity"] = "NOBT"
            return p
        # Ages 0 to 17.
        dob = self.today - datetime.timedelta(days=r.randint(30, 17 * 365 + 300))
        p["date_of_birth"] = dob.isoformat()
        age = (self.today - dob).days // 365
        if age >= 5 and r.random() < 0.85:
            la = r.choice(["801", "202", "330", "873", "926"])
            p["upn"] = upn_from_digits(la + "%04d" % r.randint(2000, 7999) +
                                       "%02d" % ((dob.year + 5) % 100) +
                                       "%03d" % r.randint(0, 999))
        else:
            p["upn_unknown"] = "UN1" if age < 6 else r.choice(UPN_UNKNOWN[1:])
        if r.random() < 0.7:
            while p["nhs_number"] is None:
                p["nhs_number"] = nhs_from_digits("999" + "%06d" % r.randint(0, 999999))
        d = r.random()
        if d < 0.15:
            p["disabilities"] = ["NONE"]
        elif d < 0.25:
            p["disabilities"] = sorted(r.sample(DISABILITY, r.randint(1, 2)))
        return p

    def postcode(self, index):
        r = self._rng(index, "postcode")
        return "ZZ99 %d%s%s" % (r.randint(1, 9), r.choice("ABDEFGHJLNPQRSTUWXYZ"),
                                r.choice("ABDEFGHJLNPQRSTUWXYZ"))


def remote_json(p, remote_id=None, postcode=None):
    """The web service's shape of a canonical person (mappings/lcs-rest)."""
    rec = {}
    if remote_id is not None:
        rec["id"] = remote_id
    rec["name"] = {"forename": p["given_name"], "surname": p["family_name"]}
    rec["dateOfBirth"] = p["date_of_birth"]
    if p["expected_date_of_birth"]:
        rec["expectedDateOfBirth"] = p["expected_date_of_birth"]
    rec["gender"] = GENDER_REMOTE[p["gender"]]
    ident = {"upn": p["upn"], "nhsNumber": p["nhs_number"]}
    if p["upn_unknown"]:
        ident["upnUnknownReason"] = p["upn_unknown"]
    rec["identifiers"] = ident
    rec["ethnicity"] = p["ethnicity"]
    if p["disabilities"]:
        rec["disabilities"] = p["disabilities"]
    if postcode:
        rec["address"] = {"postcode": postcode}
    return rec


SQL_COLUMNS = ["given_name", "family_name", "date_of_birth",
               "expected_date_of_birth", "gender", "upn", "upn_unknown",
               "nhs_number", "ethnicity", "disabilities"]


def sql_literal(v):
    if v is None:
        return "NULL"
    if isinstance(v, list):
        v = ",".join(v)
    return "'" + str(v).replace("'", "''") + "'"


def sql_values(p):
    """One person as a VALUES tuple for SQL_COLUMNS of casestore.person."""
    return "(" + ", ".join(sql_literal(p[c]) for c in SQL_COLUMNS) + ")"


def sql_insert(persons, batch=500):
    out = []
    for i in range(0, len(persons), batch):
        chunk = persons[i:i + batch]
        out.append("INSERT INTO casestore.person (%s) VALUES\n%s;\n" % (
            ", ".join(SQL_COLUMNS), ",\n".join(sql_values(p) for p in chunk)))
    return "".join(out)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", default="small", choices=sorted(SCALES))
    ap.add_argument("--seed", default="1")
    ap.add_argument("--council", type=int, help="council persons (fixture)")
    ap.add_argument("--provider", type=int, help="provider-only persons (SQL)")
    ap.add_argument("--id-start", type=int, default=100001,
                    help="first council id (ids are consecutive)")
    ap.add_argument("--unborn-rate", type=float, default=0.02)
    ap.add_argument("--council-out")
    ap.add_argument("--provider-sql")
    ap.add_argument("--manifest")
    a = ap.parse_args(argv)
    n_council, n_provider = SCALES[a.scale]
    if a.council is not None:
        n_council = a.council
    if a.provider is not None:
        n_provider = a.provider
    if n_council < 0 or n_provider < 0:
        ap.error("sizes must be >= 0")
    g = Gen(a.seed)
    council = []
    provider = []
    manifest = {"format": "casesync-gen-persons/1", "seed": a.seed,
                "scale": a.scale, "council": [], "provider": []}
    # Council persons are indexes 0..N-1, provider ones N..N+M-1, so
    # family names never repeat across the two.
    for i in range(n_council):
        p = g.person(i, a.unborn_rate)
        rid = str(a.id_start + i)
        council.append(remote_json(p, rid, g.postcode(i)))
        manifest["council"].append({"id": rid, "given_name": p["given_name"],
                                    "family_name": p["family_name"]})
    for i in range(n_council, n_council + n_provider):
        p = g.person(i, a.unborn_rate)
        provider.append(p)
        manifest["provider"].append({"given_name": p["given_name"],
                                     "family_name": p["family_name"]})
    manifest["next_index"] = n_council + n_provider
    if a.council_out:
        with open(a.council_out, "w") as f:
            f.write('{\n  "persons": [\n')
            f.write(",\n".join("    " + json.dumps(r, sort_keys=False)
                               for r in council))
            f.write("\n  ]\n}\n")
    if a.provider_sql:
        with open(a.provider_sql, "w") as f:
            f.write("-- %d fictional provider-only persons, generated by "
                    "tests/gen/gen_persons.py --seed %s\n" % (n_provider, a.seed))
            f.write("BEGIN;\n")
            f.write(sql_insert(provider))
            f.write("COMMIT;\n")
    if a.manifest:
        with open(a.manifest, "w") as f:
            json.dump(manifest, f, indent=0)
            f.write("\n")
    print("gen_persons: seed=%s council=%d provider=%d" % (a.seed, n_council,
                                                           n_provider),
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
