#include "agent/server/router.h"

#include <gtest/gtest.h>

namespace kernlet::agent {
namespace {

Router make() {
  Router r;
  r.add("GET", "/healthz", 1);
  r.add("GET", "/containerLogs/{namespace}/{pod}/{container}", 2);
  r.add("POST", "/exec/{namespace}/{pod}/{container}", 3);
  r.add("GET", "/logs/{path...}", 4);
  return r;
}

TEST(Router, MatchesParametersDecoded) {
  Router r = make();
  auto m = r.match("GET", "/containerLogs/default/web-1/nginx%2Dx");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->id, 2);
  EXPECT_EQ(m->params["namespace"], "default");
  EXPECT_EQ(m->params["pod"], "web-1");
  EXPECT_EQ(m->params["container"], "nginx-x");
}

TEST(Router, SegmentCountMustMatch) {
  Router r = make();
  EXPECT_FALSE(r.match("GET", "/containerLogs/default/web-1"));
  EXPECT_FALSE(r.match("GET", "/containerLogs/default/web-1/c/extra"));
  EXPECT_FALSE(r.match("GET", "/healthz/x"));
  EXPECT_FALSE(r.match("GET", "/nothing"));
  EXPECT_EQ(r.match("GET", "/healthz")->id, 1);
}

TEST(Router, WrongMethodIsReported) {
  Router r = make();
  bool wrong = false;
  EXPECT_FALSE(r.match("GET", "/exec/a/b/c", &wrong));
  EXPECT_TRUE(wrong);
  EXPECT_FALSE(r.match("GET", "/nowhere", &wrong));
  EXPECT_FALSE(wrong);
  EXPECT_EQ(r.match("POST", "/exec/a/b/c")->id, 3);
}

TEST(Router, RestParameterTakesTheTail) {
  Router r = make();
  auto m = r.match("GET", "/logs/pods/a/b.log");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->params["path"], "pods/a/b.log");
}

}  // namespace
}  // namespace kernlet::agent
