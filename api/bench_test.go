package api_test

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkGetStation measures GET /api/v1/stations/{id} through real HTTP
// on loopback against SQLite: authentication (one indexed lookup), the
// station read, JSON encoding and metrics.
func BenchmarkGetStation(b *testing.B) {
	e := newEnv(b)
	f := e.newTenant().admin
	station := f.fixture(b).station
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/stations/"+station, nil)
	req.Header.Set("Authorization", "Bearer "+f.key)
	cl := e.srv.Client()
	cl.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := cl.Do(req.Clone(req.Context()))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}

// BenchmarkResolvedTariff measures GET /api/v1/stations/{id}/tariff, whose
// resolution is served from the resolver's cache after the first request.
func BenchmarkResolvedTariff(b *testing.B) {
	e := newEnv(b)
	a := e.newTenant().admin
	station := a.fixture(b).station
	req, _ := http.NewRequest("GET", e.srv.URL+"/api/v1/stations/"+station+"/tariff", nil)
	req.Header.Set("Authorization", "Bearer "+a.key)
	cl := e.srv.Client()
	cl.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			res, err := cl.Do(req.Clone(req.Context()))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			if res.StatusCode != 200 {
				b.Errorf("status %d", res.StatusCode)
				return
			}
		}
	})
}
