package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the report as one indented JSON object.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes the report as a table with notes.
func (r *Result) WriteText(w io.Writer) error {
	mode := "closed loop"
	if r.Rate > 0 {
		mode = "open loop at " + group(r.Rate, 0) + "/s"
	}
	fmt.Fprintf(w, "tender bench %s: 1 operation = 1 %s; %d connections, %s, %s measured after %s warmup\n",
		r.Scenario, r.Unit, r.Connections, mode, seconds(r.DurationS), seconds(r.WarmupS))
	switch {
	case r.SharedProcess:
		fmt.Fprintf(w, "target: Tender in this process, %s %s\n", r.Database, r.DatabaseURL)
	case r.DatabaseURL != "":
		fmt.Fprintf(w, "target: %s (baseline on %s %s)\n", r.Target, r.Database, r.DatabaseURL)
	default:
		fmt.Fprintf(w, "target: %s\n", r.Target)
	}
	latency := "latency"
	if r.Webhooks != nil {
		latency = "event-to-delivery latency"
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "\toperations\tthroughput\tp50\tp90\tp99\tmax\terrors\t\n")
	row := func(name string, m *Measurement) {
		fmt.Fprintf(tw, "%s\t%s\t%s/s\t%s\t%s\t%s\t%s\t%s\t\n", name, group(float64(m.Requests), 0), group(m.Throughput, 1),
			msText(m.P50), msText(m.P90), msText(m.P99), msText(m.Max), errorsText(m.Errors))
	}
	row("tender", &r.Measurement)
	if r.Baseline != nil {
		row("baseline", r.Baseline)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "(%s of each operation, from when it was due", latency)
	if r.Webhooks != nil {
		fmt.Fprint(w, ": the payment request's send time to the event's arrival")
	}
	fmt.Fprintln(w, ")")
	if r.Ratio != nil {
		fmt.Fprintf(w, "Tender / baseline throughput: %.2f\n", *r.Ratio)
	}
	if wh := r.Webhooks; wh != nil {
		fmt.Fprintf(w, "payments: %s in the window (%s/s), request p99 %s; %d events delivered twice\n",
			group(float64(wh.Payments), 0), group(wh.PaymentThroughput, 1), msText(wh.RequestP99), wh.Duplicates)
	}
	if r.Unsent > 0 {
		fmt.Fprintf(w, "the server fell behind the rate: %s operations due in the window were never sent\n", group(float64(r.Unsent), 0))
	}
	fmt.Fprintln(w)
	per := "operations"
	if r.Webhooks != nil {
		per = "payments"
	}
	if r.CPUSPer1k != nil {
		fmt.Fprintf(w, "server CPU: %.3f s per 1,000 %s (user + system)\n", *r.CPUSPer1k, per)
	}
	if r.RSSMB != nil {
		fmt.Fprintf(w, "server memory: peak RSS %.1f MB; RSS %.1f MB when the window opened, %.1f MB when it closed\n",
			*r.RSSMB, *r.RSSStartMB, *r.RSSEndMB)
	}
	switch {
	case r.SharedProcess:
		fmt.Fprintln(w, "note: the server ran in this process, so its CPU time and memory include the load generator's")
	case r.CPUSPer1k == nil:
		fmt.Fprintln(w, "server CPU and memory: unknown (give --pid for a server on this machine)")
	}
	if r.ServerErrorsLogged > 0 {
		fmt.Fprintf(w, "the server logged %d errors\n", r.ServerErrorsLogged)
	}
	if r.Interrupted {
		fmt.Fprintln(w, "interrupted: the figures cover the part that ran")
	}
	if n := r.Failed(); n > 0 {
		fmt.Fprintf(w, "FAILED: %d operations failed\n", n)
	}
	return nil
}

func seconds(s float64) string { return strconv.FormatFloat(s, 'f', -1, 64) + "s" }

func msText(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	default:
		return fmt.Sprintf("%.2f ms", v)
	}
}

// errorsText is "0", or "500×3 transport×1".
func errorsText(m map[string]uint64) string {
	var parts []string
	for k, v := range m {
		if v > 0 {
			parts = append(parts, k+"×"+strconv.FormatUint(v, 10))
		}
	}
	if len(parts) == 0 {
		return "0"
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

// group formats v with thousands separators and the given decimals.
func group(v float64, decimals int) string {
	s := strconv.FormatFloat(v, 'f', decimals, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	neg := strings.HasPrefix(intPart, "-")
	intPart = strings.TrimPrefix(intPart, "-")
	var b strings.Builder
	for i, c := range intPart {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	out := b.String()
	if neg {
		out = "-" + out
	}
	if frac != "" {
		out += "." + frac
	}
	return out
}
