/**
 * The session view's actions, placed by its page: the composer, the controls, the fork button on each
 * message, the permission prompts, and the pending-permissions indicator (also for the sessions list).
 */
export { Composer } from './composer.js'
export { SessionControls } from './controls.js'
export { ForkButton } from './fork-button.js'
export { PendingPermissionsBadge, usePendingPermissions } from './pending.js'
export { PendingPermissions, PermissionPrompt } from './permission-prompt.js'
