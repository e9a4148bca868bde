package redisstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authgate/authgate/core"
	"github.com/redis/go-redis/v9"
)

// RD-04: with WaitReplicas, a revocation returns only once a replica has
// it; with the replica gone it fails loudly with ErrNotReplicated (the
// session is still revoked on the primary) instead of claiming durability
// it does not have.
func TestRevokeWaitsForReplica(t *testing.T) {
	primary := startRedis(t)
	replica := startRedis(t)
	ctx := context.Background()
	rc := newClient(t, replica.Addr())
	must(t, rc.Do(ctx, "REPLICAOF", "127.0.0.1", strconv.Itoa(primary.port)).Err())
	waitUntil(t, 10*time.Second, "replica in sync", func() bool {
		info, err := rc.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	s := newStore(t, primary.Addr(), Options{WaitReplicas: 1, WaitTimeout: 200 * time.Millisecond})

	sess, _, err := s.Create(ctx, core.SessionParams{Subject: "alice"})
	must(t, err)
	must(t, s.Revoke(ctx, sess.ID))
	// The replica has it now, not "soon": read it there without waiting.
	if n, err := rc.Exists(ctx, s.sessKey(sess.ID[:tagLen], sess.ID)).Result(); err != nil || n != 0 {
		t.Fatalf("RD-04: replica still holds the revoked session after Revoke returned (%d, %v)", n, err)
	}
	if n, err := rc.XLen(ctx, s.stream).Result(); err != nil || n != 1 {
		t.Fatalf("RD-04: replica's revocation stream has %d entries, %v", n, err)
	}
	if n, err := s.RevokeSubject(ctx, "nobody"); err != nil || n != 0 {
		t.Fatalf("RevokeSubject of nobody: %d, %v", n, err)
	}
	if err := s.PublishRevocation(ctx, core.Revocation{Cutoff: true, Subject: "bob", Issuer: "https://idp.example"}); err != nil {
		t.Fatalf("RD-04: PublishRevocation with the replica up: %v", err)
	}

	replica.Stop()
	sess2, _, err := s.Create(ctx, core.SessionParams{Subject: "alice"})
	must(t, err)
	err = s.Revoke(ctx, sess2.ID)
	if !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("RD-04: Revoke without a replica: %v, want ErrNotReplicated", err)
	}
	if st, _ := s.Check(ctx, sess2.ID); st != core.StateRevoked {
		t.Fatal("an unreplicated revocation must still be in force on the primary")
	}
	if err := s.PublishRevocation(ctx, core.Revocation{Cutoff: true, Subject: "carol", Issuer: "https://idp.example"}); !errors.Is(err, ErrNotReplicated) {
		t.Fatalf("RD-04: PublishRevocation without a replica: %v, want ErrNotReplicated", err)
	}
}

func TestWaitReplicasNeedsAClientThatCanWait(t *testing.T) {
	r := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer r.Close()
	if _, err := New(context.Background(), r, Options{WaitReplicas: 1}); err == nil || strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("WaitReplicas with a Ring: %v", err)
	}
	d := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer d.Close()
	if _, err := New(context.Background(), d, Options{WaitReplicas: 1, WaitTimeout: time.Second}); err == nil || strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("WaitTimeout >= CommandTimeout: %v", err)
	}
}
