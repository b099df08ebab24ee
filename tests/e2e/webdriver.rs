//! A small W3C WebDriver client (tauri-driver in front of WebKitWebDriver), enough to drive
//! the app like a user: find, click, type, read text, take screenshots.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// The W3C web element identifier key.
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Session {
    base: String,
    id: String,
    agent: ureq::Agent,
    screens: PathBuf,
    shot: usize,
}

#[derive(Clone, Debug)]
pub struct Element(String);

impl Session {
    /// Starts the app through the driver at `port`.
    pub fn start(port: u16, app: &Path, screens: PathBuf) -> Result<Session, String> {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "wry",
            "tauri:options": {"application": app.display().to_string()}
        }}});
        let v = post(&agent, &format!("{base}/session"), &caps)?;
        let id = v["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no session id in {v}"))?
            .to_string();
        std::fs::create_dir_all(&screens).map_err(|e| format!("{}: {e}", screens.display()))?;
        Ok(Session {
            base,
            id,
            agent,
            screens,
            shot: 0,
        })
    }

    fn url(&self, rest: &str) -> String {
        format!("{}/session/{}{rest}", self.base, self.id)
    }

    fn post(&self, rest: &str, body: &Value) -> Result<Value, String> {
        post(&self.agent, &self.url(rest), body)
    }

    fn get(&self, rest: &str) -> Result<Value, String> {
        let mut resp = self
            .agent
            .get(&self.url(rest))
            .call()
            .map_err(|e| e.to_string())?;
        answer(
            resp.body_mut()
                .read_json::<Value>()
                .map_err(|e| e.to_string())?,
        )
    }

    /// All elements matching a CSS selector, now.
    pub fn all(&self, css: &str) -> Result<Vec<Element>, String> {
        let v = self.post("/elements", &json!({"using": "css selector", "value": css}))?;
        Ok(v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|e| e[ELEMENT_KEY].as_str().map(|s| Element(s.to_string())))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Waits for an element matching `css`.
    pub fn find(&mut self, css: &str) -> Result<Element, String> {
        self.wait(&format!("an element {css}"), |s| {
            Ok(s.all(css)?.into_iter().next())
        })
    }

    /// Waits until nothing matches `css`.
    pub fn wait_gone(&mut self, css: &str) -> Result<(), String> {
        self.wait(&format!("no element {css}"), |s| {
            Ok(s.all(css)?.is_empty().then_some(()))
        })
    }

    /// Waits for `css` and clicks it.
    pub fn press(&mut self, css: &str) -> Result<(), String> {
        let e = self.find(css)?;
        self.click(&e)
    }

    pub fn click(&self, e: &Element) -> Result<(), String> {
        self.post(&format!("/element/{}/click", e.0), &json!({}))
            .map(|_| ())
    }

    pub fn type_text(&self, e: &Element, text: &str) -> Result<(), String> {
        self.post(&format!("/element/{}/value", e.0), &json!({"text": text}))
            .map(|_| ())
    }

    pub fn text(&self, e: &Element) -> Result<String, String> {
        let v = self.get(&format!("/element/{}/text", e.0))?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// Runs `script` in the page and returns its value.
    pub fn execute(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/sync", &json!({"script": script, "args": args}))
    }

    /// Runs `script` asynchronously: it calls `arguments[arguments.length - 1](value)`.
    pub fn execute_async(&self, script: &str, args: Value) -> Result<Value, String> {
        self.post("/execute/async", &json!({"script": script, "args": args}))
    }

    /// Resizes the window (its outer size).
    pub fn resize(&self, width: u32, height: u32) -> Result<(), String> {
        self.post("/window/rect", &json!({"width": width, "height": height}))
            .map(|_| ())
    }

    /// The text of the first element matching `css`, or "" when there is none.
    pub fn text_of(&self, css: &str) -> Result<String, String> {
        match self.all(css)?.into_iter().next() {
            Some(e) => self.text(&e),
            None => Ok(String::new()),
        }
    }

    /// Waits until `css` has text containing `needle`, and returns the text.
    pub fn wait_text(&mut self, css: &str, needle: &str) -> Result<String, String> {
        let mut seen = String::new();
        let found = self.wait(&format!("{css} to contain {needle:?}"), |s| {
            seen = s.text_of(css)?;
            Ok(seen.contains(needle).then(|| seen.clone()))
        });
        found.map_err(|e| format!("{e}; it said {seen:?}"))
    }

    /// Polls `probe` for up to 60 s. On timeout, saves a screenshot and says what it waited for.
    pub fn wait<T>(
        &mut self,
        what: &str,
        mut probe: impl FnMut(&Session) -> Result<Option<T>, String>,
    ) -> Result<T, String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut last_err = String::new();
        loop {
            match probe(self) {
                Ok(Some(v)) => return Ok(v),
                Ok(None) => {}
                Err(e) => last_err = e,
            }
            if Instant::now() > deadline {
                let shot = self.screenshot("timeout");
                return Err(format!(
                    "timed out waiting for {what} (last error: {last_err:?}); screen: {shot}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Saves the window as `NN-name.png` and returns the path.
    pub fn screenshot(&mut self, name: &str) -> String {
        self.shot += 1;
        let path = self.screens.join(format!("{:02}-{name}.png", self.shot));
        let saved = self
            .get("/screenshot")
            .and_then(|v| {
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap_or_default())
                    .map_err(|e| e.to_string())
            })
            .and_then(|png| std::fs::write(&path, png).map_err(|e| e.to_string()));
        match saved {
            Ok(()) => path.display().to_string(),
            Err(e) => format!("(screenshot failed: {e})"),
        }
    }

    pub fn close(self) {
        let _ = self.agent.delete(&self.url("")).call();
    }
}

fn post(agent: &ureq::Agent, url: &str, body: &Value) -> Result<Value, String> {
    let mut resp = agent.post(url).send_json(body).map_err(|e| e.to_string())?;
    answer(
        resp.body_mut()
            .read_json::<Value>()
            .map_err(|e| e.to_string())?,
    )
}

fn answer(v: Value) -> Result<Value, String> {
    let value = v.get("value").cloned().unwrap_or(Value::Null);
    if let Some(err) = value.get("error").and_then(Value::as_str) {
        let msg = value.get("message").and_then(Value::as_str).unwrap_or("");
        return Err(format!("{err}: {msg}"));
    }
    Ok(value)
}
