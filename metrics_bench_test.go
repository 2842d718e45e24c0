package librato

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
)

// mtTaggedBody is a tagged read of series × points, shaped like TV13.
func mtTaggedBody(series, points int) []byte {
	var b strings.Builder
	b.WriteString(`{"series":[`)
	for s := range series {
		if s > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"tags":{"host":"h%d","region":"us-east"},"measurements":[`, s)
		for p := range points {
			if p > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"time":%d,"value":%d.5}`, 1476218700+60*p, p)
		}
		b.WriteString(`]}`)
	}
	b.WriteString(`],"links":[],"resolution":60,"name":"AWS.EC2.DiskWriteBytes"}`)
	return []byte(b.String())
}

// mtLegacyBody is a legacy read of sources × points with summary fields.
func mtLegacyBody(sources, points int) []byte {
	var b strings.Builder
	b.WriteString(`{"name":"cpu_temp","type":"gauge","period":60,"resolution":60,"attributes":{"display_min":0},"measurements":{`)
	for s := range sources {
		if s > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"server%d.acme.com":[`, s)
		for p := range points {
			if p > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"measure_time":%d,"value":%d.5,"count":2,"sum":%d,"min":1,"max":2,"sum_squares":5}`, 1234567890+60*p, p, 2*p+1)
		}
		b.WriteString(`]`)
	}
	b.WriteString(`}}`)
	return []byte(b.String())
}

func BenchmarkDecodeTaggedPage(b *testing.B) {
	body := mtTaggedBody(50, 200)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var w measurementsWire
		if err := json.Unmarshal(body, &w); err != nil {
			b.Fatal(err)
		}
		if len(w.Series) != 50 || len(w.Series[49].Points) != 200 {
			b.Fatal("short decode")
		}
	}
}

func BenchmarkDecodeLegacyMetric(b *testing.B) {
	body := mtLegacyBody(20, 500)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		var m Metric
		if err := json.Unmarshal(body, &m); err != nil {
			b.Fatal(err)
		}
		if len(m.Measurements) != 20 || len(m.Measurements["server0.acme.com"]) != 500 {
			b.Fatal("short decode")
		}
	}
}
