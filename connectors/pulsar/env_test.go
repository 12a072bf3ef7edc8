package pulsar

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/apache/pulsar-client-go/pulsar"
)

// serviceEnv returns the broker and admin URLs that tests/services/pulsar.sh
// prints. Without them the test fails under CI=true and skips otherwise.
func serviceEnv(t testing.TB) (string, string) {
	t.Helper()
	u, a := os.Getenv("PULSAR_URL"), os.Getenv("PULSAR_ADMIN_URL")
	if u == "" || a == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("PULSAR_URL/PULSAR_ADMIN_URL not set under CI: start tests/services/pulsar.sh")
		}
		t.Skip("no Pulsar: run `eval $(tests/services/pulsar.sh start)` (exports PULSAR_URL, PULSAR_ADMIN_URL)")
	}
	return u, a
}

func adminDo(t testing.TB, admin, method, path, body string) {
	t.Helper()
	req, err := http.NewRequest(method, admin+path, bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// testClient connects to the test broker at url; the client is closed
// when the test ends.
func testClient(t testing.TB, url string) pulsar.Client {
	t.Helper()
	c, err := newClient(map[string]string{"service_url": url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// createPartitioned creates persistent://public/default/<name> with n
// partitions and returns the full topic name.
func createPartitioned(t testing.TB, admin, name string, n int) string {
	t.Helper()
	adminDo(t, admin, http.MethodPut, "/admin/v2/persistent/public/default/"+name+"/partitions", fmt.Sprint(n))
	return "persistent://public/default/" + name
}

func uniq(t testing.TB, prefix string) string {
	return fmt.Sprintf("%s-%s-%d", prefix, strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")), os.Getpid()) + fmt.Sprint(randSuffix())
}
