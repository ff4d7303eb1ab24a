//! Prometheus metrics served at `/metrics`.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Labels of the request counter.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// Route template (`/api/v1/ocr/{uuid}/`), never the raw path.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Status code.
    pub status: u16,
}

/// Labels of page and job counters.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    /// `cpu` or `vlm`.
    pub tier: String,
    /// `done`/`failed` (jobs) or `ok`/`failed` (pages).
    pub outcome: String,
}

/// Every metric the server exports.
pub struct Metrics {
    registry: Registry,
    /// HTTP requests.
    pub requests: Family<RequestLabels, Counter>,
    /// Finished jobs.
    pub jobs: Family<OutcomeLabels, Counter>,
    /// Processed pages.
    pub pages: Family<OutcomeLabels, Counter>,
    /// Seconds per page (recognition only).
    pub page_seconds: Histogram,
    /// Jobs waiting in the queue (updated when scraped).
    pub queue_depth: Gauge,
    /// Pages being read on the inference pool now.
    pub inference_busy: Gauge,
    /// The most pages read on the inference pool at once since start
    /// (at most `workers`).
    pub inference_peak: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("ocrchat");
        let requests = Family::<RequestLabels, Counter>::default();
        let jobs = Family::<OutcomeLabels, Counter>::default();
        let pages = Family::<OutcomeLabels, Counter>::default();
        let page_seconds = Histogram::new(exponential_buckets(0.05, 2.0, 12));
        let queue_depth = Gauge::default();
        let (inference_busy, inference_peak) = (Gauge::default(), Gauge::default());
        registry.register("http_requests", "HTTP requests by route and status", requests.clone());
        registry.register("jobs", "Finished OCR jobs", jobs.clone());
        registry.register("pages", "Processed pages", pages.clone());
        registry.register("page_seconds", "Time to recognise one page", page_seconds.clone());
        registry.register("queue_depth", "Jobs waiting in the queue", queue_depth.clone());
        registry.register("inference_busy", "Pages being read on the inference pool", inference_busy.clone());
        registry.register(
            "inference_peak",
            "Most pages read on the inference pool at once since start",
            inference_peak.clone(),
        );
        Self { registry, requests, jobs, pages, page_seconds, queue_depth, inference_busy, inference_peak }
    }
}

impl Metrics {
    /// The Prometheus text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}
