-- Calling compliance (OUTBOUND_CALLS.md, "Compliance"): consent on contacts, telemarketing
-- campaigns, the disclosure switch of an organization, opt-outs tagged with their call,
-- the agent's first-audio delay per call (abandonment) and the contact history's index.

-- Consent the operator holds for calling this contact: `written` (prior express written
-- consent, as telemarketing needs), `express` (prior express consent) or `none`. Null
-- means nothing was recorded, which counts as none.
alter table contacts add column consent_kind text
    check (consent_kind in ('written', 'express', 'none'));
alter table contacts add column consent_source text;
alter table contacts add column consent_at timestamptz;

-- A telemarketing campaign dials only contacts with written consent.
alter table campaigns add column telemarketing boolean not null default false;
-- The campaign pauses itself when its abandonment rate (answered calls whose agent did not
-- speak within 2 s, over the last 30 days) goes above this percentage.
alter table campaigns add column abandonment_threshold_pct double precision not null default 3;

-- Lets the organization save assistants whose first message does not disclose who calls
-- and that the call is automated. Off unless the organization turns it on.
alter table organizations add column allow_undisclosed_assistants boolean not null default false;

-- Where a Do-Not-Call entry came from: `api`, `import` or `call` (the callee opted out
-- during that call).
alter table dnc add column source text;
alter table dnc add column source_call_id uuid references calls (id) on delete set null;

-- Milliseconds from the call's media start (the answer) to the agent's first audio.
alter table calls add column first_agent_audio_ms bigint;

-- A contact's dial history reads every attempt of the contact.
create index campaign_attempts_contact_idx on campaign_attempts (contact_id);
