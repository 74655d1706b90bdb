"""Identity resolution: which source records are the same person.

Rules, strongest first (see README "Identity resolution"):
1. same checksum-verified resident ID number;
2. same WeChat unionid;
3. same consult platform user id (consult users and the devices bound to them);
4. same normalised mobile, unless that would merge two different verified ID
   numbers (a child registered with a guardian's phone): records without an ID
   number then join the ID holder whose name matches (exact, else one edit),
   else the oldest ID holder (the phone's adult owner).
Output: one row per source record with the cluster's best identifier, which
identity_links turns into the keyed pseudonym.
"""

from patient360.identity import resolve_identities


def model(dbt, session):
    dbt.config(materialized="table")
    observations = dbt.ref("identity_observations").df()
    return resolve_identities(observations)
