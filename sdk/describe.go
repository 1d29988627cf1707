package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"time"
)

// DescribeBinary runs a plugin binary with the argument "describe" and returns
// its validated Description. The host uses it to build its registry without
// starting the plugin.
func DescribeBinary(ctx context.Context, path string) (Description, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "describe")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return Description{}, fmt.Errorf("run %s describe: %w (stderr: %.200s)", path, err, bytes.TrimSpace(stderr.Bytes()))
	}
	var d Description
	if err := json.Unmarshal(stdout.Bytes(), &d); err != nil {
		return Description{}, fmt.Errorf("%s describe: output is not a plugin description: %w", path, err)
	}
	if err := d.Validate(); err != nil {
		return Description{}, fmt.Errorf("%s describe: %w", path, err)
	}
	return d, nil
}
