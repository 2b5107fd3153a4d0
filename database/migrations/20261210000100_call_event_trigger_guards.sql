-- The call's event triggers guarded by WHEN clauses, so an update that changes nothing a
-- watcher or a webhook sees (the wave storing provider ids, reconciliation's heard_at,
-- the workers' latency and usage reports) never starts a PL/pgSQL function. Same events
-- as before: the conditions are the ones the functions already returned early on
-- (`live_events_call`, `calls_emit_status`), now checked by the executor before the
-- call, which is far cheaper than the call.

drop trigger calls_live_events on calls;
create trigger calls_live_events_insert after insert on calls
    for each row execute function live_events_call();
create trigger calls_live_events after update on calls
    for each row
    when (new.status is distinct from old.status
          or new.outcome is distinct from old.outcome
          or new.answered_at is distinct from old.answered_at
          or new.ended_at is distinct from old.ended_at
          or new.end_reason is distinct from old.end_reason
          or new.cost_cents is distinct from old.cost_cents)
    execute function live_events_call();

drop trigger calls_emit_status on calls;
create trigger calls_emit_status_insert after insert on calls
    for each row execute function calls_emit_status();
create trigger calls_emit_status after update of status on calls
    for each row when (new.status is distinct from old.status)
    execute function calls_emit_status();
