//! The carriers' opt-out and opt-in keywords. A whole text (any case, surrounding spaces
//! and punctuation ignored) of STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT (and Twilio's
//! newer REVOKE, OPTOUT) opts the sender out; START, UNSTOP (and YES) opts back in.
//!
//! Opting out puts the number on the organization's DNC list, so no campaign dials it and
//! no text goes to it. Opting in removes only what an opt-out put there: a number an
//! operator listed for another reason stays listed.

use sqlx::PgPool;
use uuid::Uuid;

/// The DNC reason an opt-out writes (and the only one an opt-in removes).
pub const OPT_OUT_REASON: &str = "opted out by text (STOP)";

/// What a text asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    OptOut,
    OptIn,
}

/// The keyword a whole text is, if it is one.
pub fn keyword(body: &str) -> Option<Keyword> {
    let word = body
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
        .to_ascii_uppercase();
    match word.as_str() {
        "STOP" | "STOPALL" | "UNSUBSCRIBE" | "CANCEL" | "END" | "QUIT" | "REVOKE" | "OPTOUT" => {
            Some(Keyword::OptOut)
        }
        "START" | "UNSTOP" | "YES" => Some(Keyword::OptIn),
        _ => None,
    }
}

/// Applies the keyword to the organization's DNC list for `phone` (E.164).
pub async fn apply(db: &PgPool, org: Uuid, phone: &str, keyword: Keyword) -> sqlx::Result<()> {
    match keyword {
        Keyword::OptOut => {
            // A new entry is also a `contact.opted_out` event for the customer's webhooks,
            // in the same statement, as an opt-out during a call is (effects::add_to_dnc).
            sqlx::query!(
                "with added as (
                     insert into dnc (org_id, phone, reason, source) values ($1, $2, $3, 'sms')
                     on conflict (org_id, phone) do nothing
                     returning phone
                 )
                 select emit_org_event($1, 'contact.opted_out', null, null,
                            jsonb_build_object('phone', added.phone, 'reason', $3::text,
                                               'source', 'sms'))
                 from added",
                org,
                phone,
                OPT_OUT_REASON
            )
            .fetch_optional(db)
            .await?;
        }
        Keyword::OptIn => {
            sqlx::query!(
                "delete from dnc where org_id = $1 and phone = $2 and reason = $3",
                org,
                phone,
                OPT_OUT_REASON
            )
            .execute(db)
            .await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_texts_of_the_keywords_in_any_case_count() {
        for stop in [
            "STOP",
            "stop",
            " Stop. ",
            "STOPALL",
            "unsubscribe",
            "Cancel",
            "END",
            "quit!",
        ] {
            assert_eq!(keyword(stop), Some(Keyword::OptOut), "{stop}");
        }
        for start in ["START", "start", "Unstop"] {
            assert_eq!(keyword(start), Some(Keyword::OptIn), "{start}");
        }
        for other in ["please stop calling", "stopped", "the end is near", ""] {
            assert_eq!(keyword(other), None, "{other}");
        }
    }
}
