// Package loadtest is monban's small built-in load client. It drives a
// server on the loopback interface from a fixed number of workers, either
// closed-loop (each worker sends its next request when the last one
// answers) or open-loop at a fixed request rate, and reports throughput,
// latency percentiles and errors by kind. The same runner measures plain
// functions, so a benchmark and its reference are timed the same way.
//
// It is bounded by construction: every run stops by itself within its
// duration (and never later than MaxDuration), and it refuses any target
// that is not a loopback address.
package loadtest
