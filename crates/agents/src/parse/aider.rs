//! Aider's plain text: edits applied and its token/cost lines.

use super::*;

/// Aider prints text: `Applied edit to PATH` for each edit, and after each exchange
/// `Tokens: 2.3k sent, 456 received. Cost: $0.01 message, $0.05 session.`
#[derive(Default)]
pub(super) struct Aider {
    input: u64,
    output: u64,
    cached: u64,
}

/// `2.3k` → 2300, `1.2M` → 1_200_000, `456` → 456.
fn count(text: &str) -> Option<u64> {
    let t = text.trim().replace(',', "");
    let (num, mult) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1_000.0),
        'm' | 'M' => (&t[..t.len() - 1], 1_000_000.0),
        _ => (t.as_str(), 1.0),
    };
    num.parse::<f64>().ok().map(|n| (n * mult).round() as u64)
}

impl Parser for Aider {
    fn line(&mut self, line: &str, out: &mut Vec<Parsed>) {
        let line = line.trim();
        if let Some(path) = line.strip_prefix("Applied edit to ") {
            out.push(Parsed::Step {
                tool: Some("edit".into()),
                text: path.to_string(),
            });
            return;
        }
        let Some(rest) = line.strip_prefix("Tokens: ") else {
            return;
        };
        // "2.3k sent, 456 received. Cost: $0.01 message, $0.05 session."
        let mut sent = None;
        let mut received = None;
        let mut cached = 0;
        let (tokens, cost) = rest.split_once("Cost:").unwrap_or((rest, ""));
        for part in tokens.split(',') {
            let part = part.trim().trim_end_matches('.');
            if let Some(n) = part.strip_suffix(" sent") {
                sent = count(n);
            } else if let Some(n) = part.strip_suffix(" received") {
                received = count(n);
            } else if let Some(n) = part.strip_suffix(" cache hit") {
                cached = count(n).unwrap_or(0);
            }
        }
        let session_cost = cost
            .split(',')
            .find(|p| p.contains("session"))
            .and_then(|p| p.trim().trim_start_matches('$').split(' ').next())
            .and_then(|n| n.parse::<f64>().ok());
        if let (Some(input), Some(output)) = (sent, received) {
            // Aider reports each exchange; the session cost is already a running total.
            out.push(Parsed::Step {
                tool: None,
                text: format!("exchange: {input} tokens sent, {output} received"),
            });
            self.input = self.input.saturating_add(input);
            self.output = self.output.saturating_add(output);
            self.cached = self.cached.saturating_add(cached);
            out.push(Parsed::Usage {
                input: self.input,
                output: self.output,
                cached: self.cached,
                cost_usd: session_cost,
            });
        }
    }
}
