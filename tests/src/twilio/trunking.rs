//! Elastic SIP Trunking as the product provisions it: Trunking v1 (`/v1/Trunks`, their
//! credential lists and phone numbers), the account's SIP credential lists
//! (`/2010-04-01/.../SIP/CredentialLists`) and its phone numbers
//! (`/2010-04-01/.../IncomingPhoneNumbers.json`).
//!
//! Trunking v1 lives on `trunking.twilio.com` in production; its paths do not collide with
//! the 2010 API's, so one emulator listener serves both. Twilio's rules that bite in
//! practice are kept: a domain must end in `pstn.twilio.com` and is unique, a deleted
//! trunk's domain stays reserved (Twilio keeps it up to 30 days), a credential's password
//! needs 12 characters with a digit and mixed case, and a number sits on one trunk at most.

use super::error::TwilioError;
use super::rest::{authorize, form};
use super::store::Shared;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

type Reply = Result<(StatusCode, Json<Value>), TwilioError>;

/// "Trunk Domain already taken" (also while a deleted trunk's domain is reserved).
pub const DOMAIN_TAKEN: u32 = 21248;
/// The emulator's code for any other invalid parameter. Twilio's exact code for each case
/// is not recorded here; the product acts on the HTTP status and shows the message.
pub const INVALID_PARAMETER: u32 = 20001;

/// The account's trunking resources.
#[derive(Debug, Default)]
pub(crate) struct Directory {
    /// The account's phone numbers by E.164.
    numbers: BTreeMap<String, OwnedNumber>,
    trunks: BTreeMap<String, Trunk>,
    credential_lists: BTreeMap<String, CredentialList>,
    /// Domains of deleted trunks, still reserved.
    retired_domains: BTreeSet<String>,
}

#[derive(Debug, Clone)]
struct OwnedNumber {
    sid: String,
    trunk_sid: Option<String>,
}

#[derive(Debug, Clone)]
struct Trunk {
    friendly_name: String,
    domain_name: String,
    credential_lists: Vec<String>,
    created: DateTime<Utc>,
}

#[derive(Debug, Clone)]
struct CredentialList {
    friendly_name: String,
    /// Username -> password (Twilio keeps a digest hash; the emulator compares plainly).
    credentials: HashMap<String, String>,
    created: DateTime<Utc>,
}

/// A trunk as a test sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrunkReport {
    pub sid: String,
    pub friendly_name: String,
    pub domain_name: String,
    /// SIDs of the credential lists that authenticate calls to the trunk.
    pub credential_lists: Vec<String>,
    /// Numbers associated with the trunk (E.164).
    pub numbers: Vec<String>,
}

impl Directory {
    /// Adds a phone number to the account (as buying one would); returns its `PN` SID.
    pub(crate) fn own_number(&mut self, number: &str) -> String {
        self.numbers
            .entry(number.to_string())
            .or_insert_with(|| OwnedNumber {
                sid: super::new_sid("PN"),
                trunk_sid: None,
            })
            .sid
            .clone()
    }

    /// Whether `number` is one of the account's.
    pub(crate) fn owns(&self, number: &str) -> bool {
        self.numbers.contains_key(number)
    }

    pub(crate) fn trunks(&self) -> Vec<TrunkReport> {
        self.trunks
            .iter()
            .map(|(sid, trunk)| TrunkReport {
                sid: sid.clone(),
                friendly_name: trunk.friendly_name.clone(),
                domain_name: trunk.domain_name.clone(),
                credential_lists: trunk.credential_lists.clone(),
                numbers: self.numbers_on(sid),
            })
            .collect()
    }

    /// SIDs of every credential list in the account.
    pub(crate) fn credential_list_sids(&self) -> Vec<String> {
        self.credential_lists.keys().cloned().collect()
    }

    /// Would Twilio let a call to `domain` authenticated as `username`/`password` through?
    /// True when a credential list on the domain's trunk holds exactly that pair.
    pub(crate) fn accepts(&self, domain: &str, username: &str, password: &str) -> bool {
        self.trunks
            .values()
            .filter(|t| t.domain_name == domain)
            .flat_map(|t| &t.credential_lists)
            .filter_map(|sid| self.credential_lists.get(sid))
            .any(|list| {
                list.credentials
                    .get(username)
                    .is_some_and(|p| p == password)
            })
    }

    fn numbers_on(&self, trunk_sid: &str) -> Vec<String> {
        self.numbers
            .iter()
            .filter(|(_, n)| n.trunk_sid.as_deref() == Some(trunk_sid))
            .map(|(number, _)| number.clone())
            .collect()
    }
}

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/v1/Trunks", post(create_trunk).get(list_trunks))
        .route("/v1/Trunks/{trunk}", get(fetch_trunk).delete(delete_trunk))
        .route(
            "/v1/Trunks/{trunk}/CredentialLists",
            post(attach_credential_list),
        )
        .route("/v1/Trunks/{trunk}/PhoneNumbers", post(attach_number))
        .route(
            "/2010-04-01/Accounts/{account}/SIP/CredentialLists.json",
            post(create_credential_list),
        )
        .route(
            "/2010-04-01/Accounts/{account}/SIP/CredentialLists/{file}",
            axum::routing::delete(delete_credential_list),
        )
        .route(
            "/2010-04-01/Accounts/{account}/SIP/CredentialLists/{list}/Credentials.json",
            post(create_credential),
        )
        .route(
            "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
            get(list_numbers),
        )
}

fn param<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn required<'a>(form: &'a [(String, String)], name: &str) -> Result<&'a str, TwilioError> {
    param(form, name).filter(|v| !v.is_empty()).ok_or_else(|| {
        TwilioError::bad_request(21601, format!("Missing required parameter {name}"))
    })
}

/// Trunking v1 is not under an account path: the Basic credentials name the account.
fn authorize_v1(shared: &Shared, headers: &HeaderMap) -> Result<(), TwilioError> {
    authorize(shared, &shared.config.account_sid, headers)
}

fn iso(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn trunk_json(shared: &Shared, sid: &str, trunk: &Trunk) -> Value {
    let url = format!("https://trunking.twilio.com/v1/Trunks/{sid}");
    json!({
        "sid": sid,
        "account_sid": shared.config.account_sid,
        "friendly_name": trunk.friendly_name,
        "domain_name": trunk.domain_name,
        "disaster_recovery_method": null,
        "disaster_recovery_url": null,
        "secure": false,
        "recording": {"mode": "do-not-record", "trim": "do-not-trim"},
        "transfer_mode": "disable-all",
        "transfer_caller_id": "from-transferee",
        "cnam_lookup_enabled": false,
        "auth_type": if trunk.credential_lists.is_empty() { "" } else { "CREDENTIAL_LIST" },
        "auth_type_set": if trunk.credential_lists.is_empty() { json!([]) } else { json!(["CREDENTIAL_LIST"]) },
        "symmetric_rtp_enabled": false,
        "date_created": iso(trunk.created),
        "date_updated": iso(trunk.created),
        "url": url,
        "links": {
            "origination_urls": format!("{url}/OriginationUrls"),
            "credential_lists": format!("{url}/CredentialLists"),
            "ip_access_control_lists": format!("{url}/IpAccessControlLists"),
            "phone_numbers": format!("{url}/PhoneNumbers"),
            "recording": format!("{url}/Recording"),
        },
    })
}

/// `POST /v1/Trunks` with `FriendlyName`, `DomainName`.
async fn create_trunk(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Reply {
    authorize_v1(&shared, &headers)?;
    let form = form(&body)?;
    let friendly_name = param(&form, "FriendlyName").unwrap_or_default().to_string();
    let domain_name = param(&form, "DomainName")
        .unwrap_or_default()
        .to_lowercase();
    if !domain_name.is_empty() {
        let label = domain_name.strip_suffix(".pstn.twilio.com").unwrap_or("");
        let valid = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        if !valid {
            return Err(TwilioError::bad_request(
                INVALID_PARAMETER,
                format!("DomainName {domain_name} is invalid: it must end with pstn.twilio.com and hold only letters, digits and -"),
            ));
        }
    }
    let mut directory = shared.trunking();
    let taken = directory.retired_domains.contains(&domain_name)
        || directory
            .trunks
            .values()
            .any(|t| t.domain_name == domain_name);
    if !domain_name.is_empty() && taken {
        return Err(TwilioError::bad_request(
            DOMAIN_TAKEN,
            "Trunk Domain already taken",
        ));
    }
    let sid = super::new_sid("TK");
    let trunk = Trunk {
        friendly_name,
        domain_name,
        credential_lists: Vec::new(),
        created: Utc::now(),
    };
    let body = trunk_json(&shared, &sid, &trunk);
    directory.trunks.insert(sid, trunk);
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list_trunks(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Reply {
    authorize_v1(&shared, &headers)?;
    let directory = shared.trunking();
    let trunks: Vec<Value> = directory
        .trunks
        .iter()
        .map(|(sid, t)| trunk_json(&shared, sid, t))
        .collect();
    let url = "https://trunking.twilio.com/v1/Trunks?PageSize=50&Page=0";
    Ok((
        StatusCode::OK,
        Json(json!({
            "trunks": trunks,
            "meta": {"page": 0, "page_size": 50, "first_page_url": url, "previous_page_url": null,
                     "url": url, "next_page_url": null, "key": "trunks"},
        })),
    ))
}

async fn fetch_trunk(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Reply {
    authorize_v1(&shared, &headers)?;
    let directory = shared.trunking();
    let trunk = directory
        .trunks
        .get(&sid)
        .ok_or_else(|| TwilioError::not_found(&format!("/v1/Trunks/{sid}")))?;
    Ok((StatusCode::OK, Json(trunk_json(&shared, &sid, trunk))))
}

/// Deleting a trunk frees its numbers and reserves its domain.
async fn delete_trunk(
    State(shared): State<Arc<Shared>>,
    Path(sid): Path<String>,
    headers: HeaderMap,
) -> Result<StatusCode, TwilioError> {
    authorize_v1(&shared, &headers)?;
    let mut directory = shared.trunking();
    let trunk = directory
        .trunks
        .remove(&sid)
        .ok_or_else(|| TwilioError::not_found(&format!("/v1/Trunks/{sid}")))?;
    if !trunk.domain_name.is_empty() {
        directory.retired_domains.insert(trunk.domain_name);
    }
    for number in directory.numbers.values_mut() {
        if number.trunk_sid.as_deref() == Some(sid.as_str()) {
            number.trunk_sid = None;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /v1/Trunks/{sid}/CredentialLists` with `CredentialListSid`.
async fn attach_credential_list(
    State(shared): State<Arc<Shared>>,
    Path(trunk_sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authorize_v1(&shared, &headers)?;
    let form = form(&body)?;
    let list_sid = required(&form, "CredentialListSid")?.to_string();
    let mut directory = shared.trunking();
    let list = directory
        .credential_lists
        .get(&list_sid)
        .cloned()
        .ok_or_else(|| {
            TwilioError::bad_request(
                INVALID_PARAMETER,
                format!("CredentialListSid {list_sid} is not a credential list of this account"),
            )
        })?;
    let trunk = directory
        .trunks
        .get_mut(&trunk_sid)
        .ok_or_else(|| TwilioError::not_found(&format!("/v1/Trunks/{trunk_sid}")))?;
    if !trunk.credential_lists.contains(&list_sid) {
        trunk.credential_lists.push(list_sid.clone());
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sid": list_sid,
            "account_sid": shared.config.account_sid,
            "trunk_sid": trunk_sid,
            "friendly_name": list.friendly_name,
            "date_created": iso(list.created),
            "date_updated": iso(list.created),
            "url": format!("https://trunking.twilio.com/v1/Trunks/{trunk_sid}/CredentialLists/{list_sid}"),
        })),
    ))
}

/// `POST /v1/Trunks/{sid}/PhoneNumbers` with `PhoneNumberSid`.
async fn attach_number(
    State(shared): State<Arc<Shared>>,
    Path(trunk_sid): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authorize_v1(&shared, &headers)?;
    let form = form(&body)?;
    let number_sid = required(&form, "PhoneNumberSid")?.to_string();
    let mut directory = shared.trunking();
    if !directory.trunks.contains_key(&trunk_sid) {
        return Err(TwilioError::not_found(&format!("/v1/Trunks/{trunk_sid}")));
    }
    let (number, owned) = directory
        .numbers
        .iter_mut()
        .find(|(_, n)| n.sid == number_sid)
        .ok_or_else(|| {
            TwilioError::bad_request(
                INVALID_PARAMETER,
                format!("PhoneNumberSid {number_sid} is not a phone number of this account"),
            )
        })?;
    match owned.trunk_sid.as_deref() {
        Some(other) if other != trunk_sid => {
            return Err(TwilioError::bad_request(
                INVALID_PARAMETER,
                format!("Phone number {number} is already associated with trunk {other}"),
            ))
        }
        _ => owned.trunk_sid = Some(trunk_sid.clone()),
    }
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sid": number_sid,
            "account_sid": shared.config.account_sid,
            "trunk_sid": trunk_sid,
            "phone_number": number,
            "friendly_name": number,
            "capabilities": {"voice": true, "sms": false, "mms": false},
            "url": format!("https://trunking.twilio.com/v1/Trunks/{trunk_sid}/PhoneNumbers/{number_sid}"),
        })),
    ))
}

fn credential_list_json(shared: &Shared, sid: &str, list: &CredentialList) -> Value {
    let uri = format!(
        "/2010-04-01/Accounts/{}/SIP/CredentialLists/{sid}",
        shared.config.account_sid
    );
    json!({
        "sid": sid,
        "account_sid": shared.config.account_sid,
        "friendly_name": list.friendly_name,
        "date_created": super::call::twilio_time(list.created),
        "date_updated": super::call::twilio_time(list.created),
        "subresource_uris": {"credentials": format!("{uri}/Credentials.json")},
        "uri": format!("{uri}.json"),
    })
}

/// `POST .../SIP/CredentialLists.json` with `FriendlyName`.
async fn create_credential_list(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authorize(&shared, &account, &headers)?;
    let form = form(&body)?;
    let list = CredentialList {
        friendly_name: required(&form, "FriendlyName")?.to_string(),
        credentials: HashMap::new(),
        created: Utc::now(),
    };
    let sid = super::new_sid("CL");
    let body = credential_list_json(&shared, &sid, &list);
    shared.trunking().credential_lists.insert(sid, list);
    Ok((StatusCode::CREATED, Json(body)))
}

/// `DELETE .../SIP/CredentialLists/{sid}.json`; trunks using it lose it.
async fn delete_credential_list(
    State(shared): State<Arc<Shared>>,
    Path((account, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, TwilioError> {
    authorize(&shared, &account, &headers)?;
    let sid = file.strip_suffix(".json").unwrap_or(&file).to_string();
    let mut directory = shared.trunking();
    if directory.credential_lists.remove(&sid).is_none() {
        return Err(TwilioError::not_found(&format!(
            "/2010-04-01/Accounts/{account}/SIP/CredentialLists/{sid}.json"
        )));
    }
    for trunk in directory.trunks.values_mut() {
        trunk.credential_lists.retain(|s| *s != sid);
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST .../SIP/CredentialLists/{sid}/Credentials.json` with `Username`, `Password`.
async fn create_credential(
    State(shared): State<Arc<Shared>>,
    Path((account, list_sid)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Reply {
    authorize(&shared, &account, &headers)?;
    let form = form(&body)?;
    let username = required(&form, "Username")?.to_string();
    let password = required(&form, "Password")?.to_string();
    if username.len() > 32 {
        return Err(TwilioError::bad_request(
            INVALID_PARAMETER,
            "Username must be at most 32 characters long",
        ));
    }
    let strong = password.len() >= 12
        && password.chars().any(|c| c.is_ascii_digit())
        && password.chars().any(|c| c.is_ascii_lowercase())
        && password.chars().any(|c| c.is_ascii_uppercase());
    if !strong {
        return Err(TwilioError::bad_request(
            INVALID_PARAMETER,
            "Password must be a minimum of 12 characters, contain at least 1 digit, and have mixed case",
        ));
    }
    let mut directory = shared.trunking();
    let list = directory
        .credential_lists
        .get_mut(&list_sid)
        .ok_or_else(|| {
            TwilioError::not_found(&format!(
                "/2010-04-01/Accounts/{account}/SIP/CredentialLists/{list_sid}.json"
            ))
        })?;
    if list.credentials.contains_key(&username) {
        return Err(TwilioError::bad_request(
            INVALID_PARAMETER,
            format!("Username {username} already exists in this credential list"),
        ));
    }
    list.credentials.insert(username.clone(), password);
    let sid = super::new_sid("CR");
    let now = super::call::twilio_time(Utc::now());
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "sid": sid,
            "account_sid": account,
            "credential_list_sid": list_sid,
            "username": username,
            "date_created": now,
            "date_updated": now,
            "uri": format!("/2010-04-01/Accounts/{account}/SIP/CredentialLists/{list_sid}/Credentials/{sid}.json"),
        })),
    ))
}

/// `GET .../IncomingPhoneNumbers.json?PhoneNumber=`: the account's numbers, filtered.
async fn list_numbers(
    State(shared): State<Arc<Shared>>,
    Path(account): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Reply {
    authorize(&shared, &account, &headers)?;
    let wanted = query.get("PhoneNumber");
    let directory = shared.trunking();
    let numbers: Vec<Value> = directory
        .numbers
        .iter()
        .filter(|(number, _)| wanted.is_none_or(|w| w == *number))
        .map(|(number, owned)| {
            json!({
                "sid": owned.sid,
                "account_sid": account,
                "phone_number": number,
                "friendly_name": number,
                "trunk_sid": owned.trunk_sid,
                "voice_url": "",
                "capabilities": {"voice": true, "sms": false, "mms": false, "fax": false},
                "uri": format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{}.json", owned.sid),
            })
        })
        .collect();
    let uri = format!("/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json");
    Ok((
        StatusCode::OK,
        Json(json!({
            "incoming_phone_numbers": numbers,
            "page": 0, "page_size": 50, "start": 0, "end": numbers.len().saturating_sub(1),
            "first_page_uri": uri, "next_page_uri": null, "previous_page_uri": null, "uri": uri,
        })),
    ))
}
