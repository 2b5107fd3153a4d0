-- Live supervision on the organization's event stream (GET /api/v1/events): every row of
-- the supervision audit (an action a supervisor took on a call, or tried to) becomes a
-- `call.supervision` event with the actor and the action, written by a trigger in the same
-- transaction as the audit row, as the other live events are (20261206000040).

create function live_events_supervision() returns trigger language plpgsql as $$
begin
    insert into live_events (org_id, kind, subject_id, payload)
    values (new.org_id, 'call.supervision', new.call_id,
            jsonb_build_object('callId', new.call_id, 'actionId', new.id,
                               'action', new.action, 'detail', new.detail, 'ok', new.ok,
                               'error', new.error, 'userId', new.user_id,
                               'apiKeyId', new.api_key_id));
    return new;
end $$;

create trigger call_supervision_actions_live_events after insert on call_supervision_actions
    for each row execute function live_events_supervision();
