// Package storebench measures the candidate stores for the Queue's spool side by side: the
// spool package (CRC-framed segment files with group commit), go.etcd.io/bbolt and
// github.com/tidwall/wal. It is its own module so that the library does not depend on the
// stores it did not choose. Run it with:
//
//	cd internal/spool/storebench && go test -run . -bench . -count 6 | tee bench.txt
//	~/go/bin/benchstat bench.txt
package storebench
