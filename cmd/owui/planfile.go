package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/owui/owui/planner"
)

// savedPlan is what plan --out writes: the plan plus fingerprints of the
// policy and of the observed world, so apply can refuse a stale plan.
type savedPlan struct {
	FormatVersion  string           `json:"format_version"`
	PolicySHA256   string           `json:"policy_sha256"`
	ObservedSHA256 string           `json:"observed_sha256"`
	Plan           planner.JSONPlan `json:"plan"`
}

// fingerprint hashes the policy file's bytes and the observed snapshots.
func fingerprint(policyPath string, obs planner.Observed) (policySum, obsSum string, err error) {
	src, err := os.ReadFile(policyPath)
	if err != nil {
		return "", "", fmt.Errorf("read policy: %w", err)
	}
	ps := sha256.Sum256(src)
	ob, err := json.Marshal(obs.Snapshots)
	if err != nil {
		return "", "", err
	}
	obSum := sha256.Sum256(ob)
	return hex.EncodeToString(ps[:]), hex.EncodeToString(obSum[:]), nil
}

func writePlanFile(path, policyPath string, plan planner.Plan, obs planner.Observed) error {
	ps, obs2, err := fingerprint(policyPath, obs)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(savedPlan{FormatVersion: "1", PolicySHA256: ps, ObservedSHA256: obs2, Plan: plan.JSON()}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write plan file: %w", err)
	}
	return nil
}

func readPlanFile(path string) (*savedPlan, time.Time, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read plan file: %w", err)
	}
	var sp savedPlan
	if err := json.Unmarshal(data, &sp); err != nil || sp.FormatVersion != "1" {
		return nil, time.Time{}, fmt.Errorf("read plan file %s: not an owui plan file", path)
	}
	now, err := time.Parse(time.RFC3339, sp.Plan.Now)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read plan file %s: bad time: %w", path, err)
	}
	return &sp, now, nil
}
