//! Swagger UI as an operator uses it, in a real headless Chromium: open /docs, try the webhook,
//! pick an example, execute, and read the answer off the page.

mod common;
#[path = "browser/webdriver.rs"]
mod webdriver;

use common::certs::TestCerts;
use common::{pinned_service, Files, Service, TestDb};
use serde_json::{json, Value};
use webdriver::{Browser, Element};

/// The webhook's operation in Swagger UI: `operations-{tag}-{operationId}`.
const OPERATION: &str = "#operations-Webhooks-receive_webhook";

/// Swagger UI open at the webhook, "Try it out" pressed.
struct SwaggerUi {
    browser: Browser,
}

impl SwaggerUi {
    async fn open(service: &Service) -> SwaggerUi {
        let browser = Browser::start().await;
        browser.open(&service.url("/docs")).await;
        let summary = browser
            .find(&format!("{OPERATION} .opblock-summary-control"))
            .await;
        browser.click(&summary).await;
        let try_it_out = browser.find(&format!("{OPERATION} .try-out__btn")).await;
        browser.click(&try_it_out).await;
        SwaggerUi { browser }
    }

    /// Picks an example by its name in the spec and waits until the body editor shows it.
    async fn choose_example(&self, name: &str) -> Value {
        let css = format!("{OPERATION} .examples-select select option[value=\"{name}\"]");
        let option = self.browser.find(&css).await;
        self.browser.click(&option).await;
        let editor = self
            .browser
            .find(&format!("{OPERATION} textarea.body-param__text"))
            .await;
        let browser = &self.browser;
        browser
            .wait_for("the example in the body editor", || async {
                let text = browser.property(&editor, "value").await;
                serde_json::from_str::<Value>(&text)
                    .ok()
                    .filter(|body| body["events"][0]["id"].is_string())
            })
            .await
    }

    async fn header_field(&self, name: &str) -> Element {
        let css = format!("{OPERATION} tr[data-param-name=\"{name}\"] input");
        self.browser.find(&css).await
    }

    /// Presses Execute and returns the status and body the page shows, once they differ from
    /// what it showed before.
    async fn execute(&self, previous: Option<(String, Value)>) -> (String, Value) {
        let execute = self
            .browser
            .find(&format!("{OPERATION} .btn.execute"))
            .await;
        self.browser.click(&execute).await;
        let browser = &self.browser;
        browser
            .wait_for("the server's answer", || async {
                let answer = self.shown_answer().await?;
                (Some(&answer) != previous.as_ref()).then_some(answer)
            })
            .await
    }

    async fn shown_answer(&self) -> Option<(String, Value)> {
        let table = format!("{OPERATION} .live-responses-table");
        let status = self
            .browser
            .all(&format!("{table} tr.response .response-col_status"))
            .await;
        let status = self.browser.text(status.first()?).await;
        for block in self
            .browser
            .all(&format!(
                "{table} tr.response .response-col_description pre"
            ))
            .await
        {
            if let Ok(body) = serde_json::from_str(&self.browser.text(&block).await) {
                return Some((status.trim().to_owned(), body));
            }
        }
        None
    }
}

#[tokio::test]
async fn the_transaction_example_run_from_swagger_ui_is_stored() {
    let db = TestDb::mysql().await;
    let service = Service::start(&[("DATABASE_URL", &db.url), ("APP_ENV", "development")]);
    let docs = SwaggerUi::open(&service).await;

    let example = docs.choose_example("transaction").await;
    let answer = docs.execute(None).await;

    assert_eq!(
        answer,
        ("200".into(), json!({ "accepted": 1, "duplicates": 0 }))
    );
    let transaction_id = example["events"][0]["links"]["transaction"]
        .as_str()
        .unwrap();
    let row = &db
        .rows(&format!(
            "SELECT CAST(amount AS CHAR), currency, CAST(booking_date AS CHAR), \
             counterparty_name FROM transactions WHERE transaction_id = '{transaction_id}'"
        ))
        .await[0];
    assert_eq!(
        row,
        &[
            Some("-12.5000".into()),
            Some("EUR".into()),
            Some("2024-05-01".into()),
            Some("Café Central GmbH".into())
        ]
    );
    let verification = db
        .value("SELECT verification FROM webhook_deliveries")
        .await;
    assert_eq!(verification.as_deref(), Some("unverified"));
}

#[tokio::test]
async fn in_production_swagger_ui_is_refused_until_a_pinned_certificate_is_pasted() {
    let db = TestDb::mysql().await;
    let certs = TestCerts::new();
    let files = Files::new();
    let service = pinned_service(&db.url, &certs.pinned_pem(), &files, &[]);
    let docs = SwaggerUi::open(&service).await;
    docs.choose_example("account_update").await;

    let refused = docs.execute(None).await;
    assert_eq!(refused.0, "401");
    assert_eq!(refused.1["error"], "client_certificate_missing");
    assert_eq!(db.count("webhook_deliveries").await, 0);

    let cert = docs.header_field("X-Client-Cert").await;
    docs.browser
        .fill(&cert, &certs.pinned.nginx_escaped())
        .await;
    let verify = docs.header_field("X-Client-Verify").await;
    docs.browser.fill(&verify, "SUCCESS").await;
    let stored = docs.execute(Some(refused)).await;

    assert_eq!(
        stored,
        ("200".into(), json!({ "accepted": 1, "duplicates": 0 }))
    );
    let delivery = &db
        .rows("SELECT verification, matched_pin FROM webhook_deliveries")
        .await[0];
    assert_eq!(delivery[0].as_deref(), Some("verified"));
    assert_eq!(
        delivery[1].as_deref(),
        Some(certs.pinned.openssl_fingerprint().as_str())
    );
    let account = db
        .value("SELECT iban FROM bank_accounts WHERE account_id = 'AC000EXAMPLE01'")
        .await;
    assert_eq!(account.as_deref(), Some("DE89370400440532013000"));
}
