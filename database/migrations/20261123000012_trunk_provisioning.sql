-- A trunk the control plane provisioned at Twilio (Elastic SIP Trunking) remembers what it
-- created there, and with which account, so that deleting the trunk removes them too.
alter table trunks
    add column twilio_trunk_sid text,
    add column twilio_credential_list_sid text,
    add column twilio_account_sid text,
    -- Sealed like the other secrets (AES-256-GCM with the deployment's key).
    add column twilio_auth_token_enc bytea;
