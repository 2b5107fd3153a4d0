-- The organization's event stream (GET /api/v1/events): one row per change of a call, a
-- campaign or a call's transcript, written by triggers in the very transaction that makes
-- the change, so no code path that changes a status can forget to publish it and an event
-- exists exactly when its change committed.
--
-- Gap-free resume: rows are read in (txid, id) order and only up to the oldest transaction
-- still running (pg_snapshot_xmin). A transaction below that horizon has finished, and
-- every later transaction gets a larger txid, so nothing can ever appear behind a position
-- a reader has passed. The event id a client sees is "txid-id".

create table live_events (
    id bigserial primary key,
    org_id uuid not null references organizations (id) on delete cascade,
    txid xid8 not null default pg_current_xact_id(),
    kind text not null,
    subject_id uuid not null,
    payload jsonb not null,
    created_at timestamptz not null default now()
);
create index live_events_stream_idx on live_events (org_id, txid, id);
create index live_events_created_idx on live_events (created_at);

create function live_events_call() returns trigger language plpgsql as $$
begin
    -- Only changes a watcher cares about: status, outcome, answer, end, cost.
    if tg_op = 'UPDATE'
       and new.status is not distinct from old.status
       and new.outcome is not distinct from old.outcome
       and new.answered_at is not distinct from old.answered_at
       and new.ended_at is not distinct from old.ended_at
       and new.end_reason is not distinct from old.end_reason
       and new.cost_cents is not distinct from old.cost_cents then
        return new;
    end if;
    insert into live_events (org_id, kind, subject_id, payload)
    values (new.org_id,
            case when tg_op = 'INSERT' then 'call.created' else 'call.updated' end,
            new.id,
            jsonb_build_object(
                'callId', new.id, 'campaignId', new.campaign_id, 'to', new.to_phone,
                'status', new.status, 'outcome', new.outcome, 'answeredBy', new.answered_by,
                'startedAt', new.started_at, 'answeredAt', new.answered_at,
                'endedAt', new.ended_at, 'durationSec', new.duration_sec,
                'endReason', new.end_reason, 'costCents', new.cost_cents));
    return new;
end $$;

create trigger calls_live_events after insert or update on calls
    for each row execute function live_events_call();

create function live_events_campaign() returns trigger language plpgsql as $$
begin
    if tg_op = 'UPDATE'
       and new.status is not distinct from old.status
       and new.status_reason is not distinct from old.status_reason then
        return new;
    end if;
    insert into live_events (org_id, kind, subject_id, payload)
    values (new.org_id,
            case when tg_op = 'INSERT' then 'campaign.created' else 'campaign.updated' end,
            new.id,
            jsonb_build_object('campaignId', new.id, 'name', new.name, 'status', new.status,
                               'statusReason', new.status_reason));
    return new;
end $$;

create trigger campaigns_live_events after insert or update on campaigns
    for each row execute function live_events_campaign();

create function live_events_transcript() returns trigger language plpgsql as $$
begin
    insert into live_events (org_id, kind, subject_id, payload)
    values (new.org_id, 'call.transcript', new.call_id,
            jsonb_build_object('callId', new.call_id, 'speaker', new.speaker,
                               'text', new.text, 'startMs', new.start_ms,
                               'endMs', new.end_ms));
    return new;
end $$;

create trigger transcript_entries_live_events after insert on transcript_entries
    for each row execute function live_events_transcript();
