-- casestore: tables for every canonical entity (docs/canonical-model.md),
-- so the shipped mapping sets have somewhere to land. Codes are stored as
-- the census codes; a set of codes is one comma-separated text column.

ALTER TABLE casestore.person
    ADD COLUMN former_upn             text,
    ADD COLUMN upn_unknown            text,
    ADD COLUMN expected_date_of_birth date,
    ADD COLUMN date_of_death          date,
    ADD COLUMN ethnicity              text,
    ADD COLUMN disabilities           text;

ALTER TABLE casestore.referral
    ADD COLUMN initial_cpc_date date;

CREATE TABLE casestore.assessment (
    id                   bigserial PRIMARY KEY,
    referral_id          bigint NOT NULL REFERENCES casestore.referral (id),
    start_date           date NOT NULL,
    internal_review_date date,
    authorisation_date   date,
    factors              text,
    updated_at           timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX assessment_referral ON casestore.assessment (referral_id);

CREATE TABLE casestore.cin_plan (
    id          bigserial PRIMARY KEY,
    referral_id bigint NOT NULL REFERENCES casestore.referral (id),
    start_date  date NOT NULL,
    end_date    date,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cin_plan_referral ON casestore.cin_plan (referral_id);

CREATE TABLE casestore.section47 (
    id                bigserial PRIMARY KEY,
    referral_id       bigint NOT NULL REFERENCES casestore.referral (id),
    start_date        date NOT NULL,
    icpc_target_date  date,
    icpc_date         date,
    icpc_not_required boolean,
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX section47_referral ON casestore.section47 (referral_id);

CREATE TABLE casestore.cp_plan (
    id               bigserial PRIMARY KEY,
    referral_id      bigint NOT NULL REFERENCES casestore.referral (id),
    start_date       date NOT NULL,
    end_date         date,
    initial_category text,
    latest_category  text,
    previous_plans   integer,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX cp_plan_referral ON casestore.cp_plan (referral_id);

CREATE TABLE casestore.cp_review (
    id          bigserial PRIMARY KEY,
    cp_plan_id  bigint NOT NULL REFERENCES casestore.cp_plan (id),
    review_date date NOT NULL
);
CREATE INDEX cp_review_plan ON casestore.cp_review (cp_plan_id);

CREATE TABLE casestore.worker (
    id          bigserial PRIMARY KEY,
    worker_ref  text NOT NULL UNIQUE,
    given_name  text,
    family_name text,
    team        text,
    role        text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- A practitioner's case note or visit.
CREATE TABLE casestore.case_note (
    id           bigserial PRIMARY KEY,
    person_id    bigint NOT NULL REFERENCES casestore.person (id),
    note_ref     text NOT NULL UNIQUE,
    occurred_at  timestamptz NOT NULL,
    contact_type text,
    worker_ref   text,
    seen         boolean,
    seen_alone   boolean,
    summary      text,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX case_note_person ON casestore.case_note (person_id);

CREATE TABLE casestore.allocation (
    id         bigserial PRIMARY KEY,
    person_id  bigint NOT NULL REFERENCES casestore.person (id),
    worker_ref text NOT NULL,
    role       text,
    start_date date NOT NULL,
    end_date   date,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX allocation_person ON casestore.allocation (person_id);

-- One domain score of an outcome measurement (e.g. an Outcomes Star).
CREATE TABLE casestore.outcome (
    id          bigserial PRIMARY KEY,
    person_id   bigint NOT NULL REFERENCES casestore.person (id),
    tool        text NOT NULL,
    domain      text NOT NULL,
    measured_on date NOT NULL,
    score       integer NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX outcome_person ON casestore.outcome (person_id);

CREATE TABLE casestore.family (
    id             bigserial PRIMARY KEY,
    family_ref     text UNIQUE,
    la_family_id   text UNIQUE,
    household_name text,
    postcode       text,
    team           text,
    area           text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE casestore.family_member (
    id           bigserial PRIMARY KEY,
    family_id    bigint NOT NULL REFERENCES casestore.family (id),
    la_child_id  text,
    relationship text,
    start_date   date,
    end_date     date
);
CREATE INDEX family_member_family ON casestore.family_member (family_id);
