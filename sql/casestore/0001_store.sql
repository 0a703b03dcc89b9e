-- casestore: the reference provider case store used by the demo, tests and
-- benchmarks. Real deployments map their own tables.

CREATE SCHEMA IF NOT EXISTS casestore;

CREATE TABLE casestore.person (
    id             bigserial PRIMARY KEY,
    la_child_id    text UNIQUE,          -- the council's child identifier
    given_name     text,
    family_name    text,
    date_of_birth  date,
    gender         text,
    upn            text,
    nhs_number     text,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

-- One row per referral (children-in-need episode).
CREATE TABLE casestore.referral (
    id              bigserial PRIMARY KEY,
    person_id       bigint NOT NULL REFERENCES casestore.person (id),
    la_referral_id  text UNIQUE,
    referral_date   date NOT NULL,
    referral_source text,
    primary_need    text,
    closure_date    date,
    closure_reason  text,
    no_further_action boolean NOT NULL DEFAULT false,
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX referral_person ON casestore.referral (person_id);
