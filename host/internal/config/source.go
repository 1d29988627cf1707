package config

import "context"

// Source delivers the complete current set of configs: once at start, and
// again after every change, until ctx ends.
type Source interface {
	// Run calls publish with every new snapshot. The first call must come
	// before the source is considered loaded; Run returns when ctx ends or
	// the source fails for good.
	Run(ctx context.Context, publish func(Snapshot)) error
}

// StatusReporter is implemented by sources that can record the outcome of
// validating a config where its author looks (the GitOpsConfig status).
type StatusReporter interface {
	// ReportStatus records whether the config at key (with the generation
	// validated) is ready, with a CamelCase reason and a message.
	ReportStatus(ctx context.Context, key string, generation int64, ready bool, reason, message string) error
}

// DeliveryReporter is implemented by sources that can record, where the
// config's author looks, that the connector gave up work of a config.
type DeliveryReporter interface {
	// ReportGiveUp records that work of the config at key was given up,
	// with a CamelCase reason and a message.
	ReportGiveUp(ctx context.Context, key, reason, message string) error
}
