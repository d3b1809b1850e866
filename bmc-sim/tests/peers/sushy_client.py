"""Drive a bmc-sim Redfish face with OpenStack's sushy client (a peer we did not write).

usage: sushy_client.py URL IMAGE_URL
Prints one JSON object with what sushy read back; exits non-zero on any sushy error.
"""
import json
import sys
import time

import sushy
from sushy import auth

url, image = sys.argv[1], sys.argv[2]
root = sushy.Sushy(url, auth=auth.SessionOrBasicAuth(username="admin", password="password"))
out = {"product": root.product}

system = root.get_system_collection().get_members()[0]
out["system"] = system.path

system.reset_system(sushy.ResetType.ON)
system.refresh()
out["power_after_on"] = str(system.power_state.value if hasattr(system.power_state, "value") else system.power_state)

system.set_system_boot_options(
    target=sushy.BootSource.PXE, enabled=sushy.BootSourceOverrideEnabled.ONCE
)
system.refresh()
out["boot_target"] = str(system.boot.target.value)
out["boot_enabled"] = str(system.boot.enabled.value)

# Virtual media wherever the service keeps it (under the system or the manager).
vms = []
try:
    vms = system.virtual_media.get_members()
except sushy.exceptions.MissingAttributeError:
    pass
if not vms:
    for manager in root.get_manager_collection().get_members():
        vms.extend(manager.virtual_media.get_members())
vm = vms[0]
vm.insert_media(image, inserted=True, write_protected=True)
vm.refresh()
out["media_inserted"] = bool(vm.inserted)
out["media_image"] = vm.image
vm.eject_media()
vm.refresh()
out["media_after_eject"] = bool(vm.inserted)

system.bios.set_attributes({"ProcTurbo": "Disabled"})
system.reset_system(sushy.ResetType.FORCE_RESTART)
# The firmware applies staged settings during POST (a task): poll as a real client must.
for _ in range(50):
    system.bios.refresh()
    if system.bios.attributes.get("ProcTurbo") == "Disabled":
        break
    time.sleep(0.1)
out["bios_proc_turbo"] = system.bios.attributes.get("ProcTurbo")

system.secure_boot.set_enabled(True)
system.secure_boot.refresh()
out["secure_boot"] = bool(system.secure_boot.enabled)

root.close() if hasattr(root, "close") else None
print(json.dumps(out))
