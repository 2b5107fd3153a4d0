-- Inbound calls through LiveKit SIP (issue 19, item 3). The caller's room is the call's
-- identity at LiveKit: its webhooks come again and out of order, and a second
-- `participant_joined` for the same room must find the call the first one made, not make
-- another (rooms are `call-<id>` outbound and LiveKit's unique `inbound-...` names inbound).
create unique index calls_room_name_key on calls (room_name) where room_name is not null;

-- Outside business hours or with no worker free, a LiveKit caller is hung up on: the
-- message and the voicemail are Twilio's <Say> and <Record>, which a LiveKit room lacks.
alter table calls drop constraint calls_inbound_action_check;
alter table calls add constraint calls_inbound_action_check
    check (inbound_action in ('assistant', 'message', 'voicemail', 'hang_up'));
