#include "storage/model/metrics.h"

#include <gtest/gtest.h>

#include "dicomweb/operations.h"

namespace pacs::metrics {
namespace {

TEST(Metrics, TheExpositionIsPrometheusTextFormat) {
  Registry registry;
  registry.counter("t_requests_total", "Requests", {{"route", "/a"}, {"status", "200"}}).add(2);
  registry.counter("t_requests_total", "ignored: the first help stays", {{"route", "/a\"b"}}).add();
  registry.gauge("t_depth", "Depth").set(7);
  auto& latency = registry.histogram("t_seconds", "Latency", {{"route", "/a"}}, {0.1, 1});
  latency.observe(0.05);
  latency.observe(0.5);
  latency.observe(5);
  int refreshed = 0;
  registry.on_scrape([&](Registry& r) { r.gauge("t_scraped", "Scrapes").set(++refreshed); });
  const std::string text = registry.exposition();
  EXPECT_EQ(text,
            "# HELP t_depth Depth\n# TYPE t_depth gauge\nt_depth 7\n"
            "# HELP t_requests_total Requests\n# TYPE t_requests_total counter\n"
            "t_requests_total{route=\"/a\",status=\"200\"} 2\n"
            "t_requests_total{route=\"/a\\\"b\"} 1\n"
            "# HELP t_scraped Scrapes\n# TYPE t_scraped gauge\nt_scraped 1\n"
            "# HELP t_seconds Latency\n# TYPE t_seconds histogram\n"
            "t_seconds_bucket{route=\"/a\",le=\"0.1\"} 1\n"
            "t_seconds_bucket{route=\"/a\",le=\"1\"} 2\n"
            "t_seconds_bucket{route=\"/a\",le=\"+Inf\"} 3\n"
            "t_seconds_sum{route=\"/a\"} 5.55\nt_seconds_count{route=\"/a\"} 3\n");
  EXPECT_NE(registry.exposition().find("t_scraped 2"), std::string::npos);
}

TEST(Metrics, RoutesKeepTheResourceWordsAndHideValues) {
  using web::route_of;
  EXPECT_EQ(route_of("/dicom-web/studies?PatientName=DOE*"), "/dicom-web/studies");
  EXPECT_EQ(route_of("/dicom-web/studies/1.2.3/series/4.5/instances/6.7/frames/1,2"),
            "/dicom-web/studies/{study}/series/{series}/instances/{instance}/frames/{frames}");
  EXPECT_EQ(route_of("/dicom-web/studies/1.2.3/metadata"), "/dicom-web/studies/{study}/metadata");
  EXPECT_EQ(route_of("/api/reconciliation/1.2.3/link?placerOrder=P"),
            "/api/reconciliation/{study}/link");
  EXPECT_EQ(route_of("/metrics"), "/metrics");
  EXPECT_EQ(route_of("/wado?requestType=WADO"), "/wado");
  EXPECT_EQ(route_of("/random/path"), "other");
  EXPECT_EQ(route_of("/dicom-web/whatever"), "/dicom-web/{id}");
}

}  // namespace
}  // namespace pacs::metrics
