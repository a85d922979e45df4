package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/jackc/pgx/v5"

	"github.com/deskmail/deskmail/store/pgtest"
)

// The database goes away under load and comes back: no email is answered
// 250 unless it is stored, the ones that could not be stored get a 4xx
// (the sender retries), /readyz says 503 meanwhile, and the node serves
// again once the database is back, without a restart.
//
// By default only this test's database goes away (new connections
// refused, existing ones terminated), so tests running beside it are not
// disturbed. DESKMAIL_TEST_PG_RESTART=1 restarts the whole PostgreSQL
// server instead (pg_ctlcluster, as root): opt-in, since it cuts every
// other test's connections too.
func TestDatabaseLostUnderLoad(t *testing.T) {
	url := pgtest.NewDatabase(t)
	dir := t.TempDir()
	useStore(dir, url)
	d := startDaemon(t, dir, "--trusted-relay", "127.0.0.1/32")
	name := url[strings.LastIndex(url, "/")+1:]
	name, _, _ = strings.Cut(name, "?")
	admin, err := pgx.Connect(context.Background(), pgtest.Server())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	exec1 := func(sql string) {
		if _, err := admin.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	restartServer := os.Getenv("DESKMAIL_TEST_PG_RESTART") == "1"

	var mu sync.Mutex
	accepted := map[string]bool{}
	var temp, other []string
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			id := fmt.Sprintf("<down-%d@client.test>", i)
			err := sendVia(d.SMTP, i, burstMessage(i, id))
			mu.Lock()
			var se *smtp.SMTPError
			switch {
			case err == nil:
				accepted[id] = true
			case errors.As(err, &se) && se.Code/100 == 4:
				temp = append(temp, se.Error())
			default:
				other = append(other, err.Error())
			}
			mu.Unlock()
		}
	}()
	waitAccepted := func(n int) {
		deadline := time.Now().Add(lineTimeout * 2)
		for {
			mu.Lock()
			got := len(accepted)
			mu.Unlock()
			if got >= n {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d emails accepted, waiting for %d", got, n)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitAccepted(20)

	if restartServer {
		out, err := exec.Command("pg_ctlcluster", "--skip-systemctl-redirect", "15", "main", "restart").CombinedOutput()
		if err != nil {
			t.Fatalf("restart PostgreSQL: %v: %s", err, out)
		}
	} else {
		exec1(`ALTER DATABASE ` + name + ` ALLOW_CONNECTIONS false`)
		exec1(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '` + name + `'`)
		// /readyz follows the database (a check every 2 s).
		deadline := time.Now().Add(lineTimeout)
		for readyz(t, d) != http.StatusServiceUnavailable {
			if time.Now().After(deadline) {
				t.Fatal("/readyz never said 503 while the database was away")
			}
			time.Sleep(50 * time.Millisecond)
		}
		mu.Lock()
		before := len(temp)
		mu.Unlock()
		deadline = time.Now().Add(lineTimeout)
		for {
			mu.Lock()
			n := len(temp)
			mu.Unlock()
			if n > before {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no email was answered 4xx while the database was away")
			}
			time.Sleep(20 * time.Millisecond)
		}
		exec1(`ALTER DATABASE ` + name + ` ALLOW_CONNECTIONS true`)
	}
	mu.Lock()
	had := len(accepted)
	mu.Unlock()
	waitAccepted(had + 20) // service resumes
	deadline := time.Now().Add(lineTimeout)
	for readyz(t, d) != http.StatusOK {
		if time.Now().After(deadline) {
			t.Fatal("/readyz did not come back to 200")
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	<-done

	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	rows, err := conn.Query(context.Background(), `SELECT message_id, count(*) FROM deskmail_log WHERE direction = 'in' AND status = 'received' GROUP BY message_id`)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct {
		id string
		n  int
	}, error) {
		var v struct {
			id string
			n  int
		}
		err := r.Scan(&v.id, &v.n)
		return v, err
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{}
	for _, s := range stored {
		got[s.id] = s.n
	}
	for id := range accepted {
		if got[id] != 1 {
			t.Errorf("%s answered 250 but stored %d times", id, got[id])
		}
	}
	if len(other) > 0 {
		t.Errorf("%d emails got neither 250 nor 4xx, e.g. %s", len(other), other[0])
	}
	t.Logf("%d accepted, %d answered 4xx while the database was away (e.g. %v)", len(accepted), len(temp), first(temp))
	select {
	case <-d.exited:
		t.Fatal("the daemon exited")
	default:
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func readyz(t *testing.T, d *daemon) int {
	resp, err := apiClient(t, 5*time.Second).Get("http://" + d.HTTP + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}
