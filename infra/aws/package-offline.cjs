/* global module */
'use strict';
/**
 * Serverless plugin: lets `osls package` run offline, without AWS credentials.
 *
 * With a `layers:` section, Serverless v3 asks CloudFormation (describeStacks) during packaging
 * whether the layer zip is already uploaded, so `package` fails without credentials and
 * network (serverless/serverless#8187). That check only saves an upload at deploy time, so it
 * is skipped when the command is `package`; `deploy` keeps it.
 */
class FluxlessPackageOffline {
  constructor(serverless) {
    const commands = (serverless.processedInput && serverless.processedInput.commands) || [];
    this.hooks = {};
    if (commands[0] !== 'package') return;
    this.hooks['before:package:compileLayers'] = () => {
      for (const plugin of serverless.pluginManager.plugins) {
        if (plugin && plugin.constructor && plugin.constructor.name === 'AwsCompileLayers' && typeof plugin.compareWithLastLayer === 'function') {
          plugin.compareWithLastLayer = async () => undefined;
        }
      }
    };
  }
}

module.exports = FluxlessPackageOffline;
